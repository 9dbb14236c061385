/* Losses, gradient norms, optimiser and EMA updates: argument checks. */
#include "ops_common.h"

#include <math.h>

static bool
check_loss (DaeStream * s, const char *name, const DaeTensor * loss, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target)
{
  if (!loss || !pred || !target)
    return dae_op_fail (s, name, "missing tensor");
  if (dae_tensor_numel (loss) != 1)
    return dae_op_fail (s, name, "loss must hold one element");
  if (!dae_tensor_same_shape (pred, target) || (dpred && !dae_tensor_same_shape (dpred, pred)))
    return dae_op_fail (s, name, "pred, target and dpred must have one shape");
  return true;
}

void
dae_mse_loss (DaeStream * s, const DaeTensor * loss, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale)
{
  const char *name = "mse_loss";
  if (dae_op_ready (s, name, false, DAE_TENSORS (loss, dpred, pred, target)) &&
      check_loss (s, name, loss, dpred, pred, target))
    DAE_OP_RUN (s, name, mse_loss, loss, dpred, pred, target, grad_scale);
}

void
dae_l1_loss (DaeStream * s, const DaeTensor * loss, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale)
{
  const char *name = "l1_loss";
  if (dae_op_ready (s, name, false, DAE_TENSORS (loss, dpred, pred, target)) &&
      check_loss (s, name, loss, dpred, pred, target))
    DAE_OP_RUN (s, name, l1_loss, loss, dpred, pred, target, grad_scale);
}

void
dae_sumsq (DaeStream * s, const DaeTensor * out, const DaeTensor * x)
{
  const char *name = "sumsq";
  if (!dae_op_ready (s, name, false, DAE_TENSORS (out, x)))
    return;
  if (!out || !x || dae_tensor_numel (out) != 1)
    dae_op_fail (s, name, "out must hold one element");
  else
    DAE_OP_RUN (s, name, sumsq, out, x);
}

void
dae_clip_factor (DaeStream * s, const DaeTensor * factor, const DaeTensor * sumsq,
    float max_norm)
{
  const char *name = "clip_factor";
  if (!dae_op_ready (s, name, false, DAE_TENSORS (factor, sumsq)))
    return;
  if (!factor || !sumsq || dae_tensor_numel (factor) != 1)
    dae_op_fail (s, name, "factor must hold one element");
  else if (!(max_norm > 0.0f))
    dae_op_fail (s, name, "max_norm must be positive");
  else
    DAE_OP_RUN (s, name, clip_factor, factor, sumsq, max_norm);
}

void
dae_adam_update (DaeStream * s, const DaeTensor * param, const DaeTensor * grad,
    const DaeTensor * m, const DaeTensor * v, const DaeAdamArgs * a)
{
  const char *name = "adam_update";
  if (!a || !dae_op_ready (s, name, false, DAE_TENSORS (param, grad, m, v, a->grad_scale)))
    return;
  if (!param || !grad || !m || !v || !dae_tensor_same_shape (param, grad) ||
      !dae_tensor_same_shape (param, m) || !dae_tensor_same_shape (param, v))
    dae_op_fail (s, name, "param, grad, m and v must have one shape");
  else if (a->step < 1)
    dae_op_fail (s, name, "step must start at 1");
  else if (a->grad_scale && dae_tensor_numel (a->grad_scale) != 1)
    dae_op_fail (s, name, "grad_scale must hold one element");
  else
    DAE_OP_RUN (s, name, adam_update, param, grad, m, v, a);
}

void
dae_ema_update (DaeStream * s, const DaeTensor * ema, const DaeTensor * param, float decay)
{
  const char *name = "ema_update";
  if (!dae_op_ready (s, name, false, DAE_TENSORS (ema, param)))
    return;
  if (!ema || !param || !dae_tensor_same_shape (ema, param))
    dae_op_fail (s, name, "ema and param must have one shape");
  else
    DAE_OP_RUN (s, name, ema_update, ema, param, decay);
}

DaeAdamScalars
dae_adam_scalars (const DaeAdamArgs * a)
{
  double lr = a->lr, b1 = a->beta1, b2 = a->beta2;
  DaeAdamScalars k = {
    .wd = a->weight_decay,
    .decay = (float) (1.0 - lr * a->weight_decay),
    .beta1 = a->beta1,
    .beta2 = a->beta2,
    .one_m_beta1 = (float) (1.0 - b1),
    .one_m_beta2 = (float) (1.0 - b2),
    .eps = a->eps,
    .step_size = (float) (lr / (1.0 - pow (b1, a->step))),
    .bc2_sqrt = (float) sqrt (1.0 - pow (b2, a->step)),
  };
  return k;
}
