/* Linear layers and convolutions: argument checks. */
#include "ops_common.h"

static bool
check_linear (DaeStream * s, const char *name, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b)
{
  if (!y || !x || !w)
    return dae_op_fail (s, name, "missing tensor");
  int in = (int) dae_tensor_sample_size (x);
  return dae_op_shape (s, name, "w", w, y->c, in, 1, 1) &&
      dae_op_shape (s, name, "y", y, x->n, -1, 1, 1) &&
      (!b || dae_op_shape (s, name, "b", b, 1, y->c, 1, 1));
}

void
dae_linear_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, bool accumulate)
{
  const char *name = "linear_forward";
  if (dae_op_ready (s, name, false, DAE_TENSORS (y, x, w, b)) &&
      check_linear (s, name, y, x, w, b))
    DAE_OP_RUN (s, name, linear_forward, y, x, w, b, accumulate);
}

void
dae_linear_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w)
{
  const char *name = "linear_backward";
  if (!dx && !dw && !db)
    return;
  if (!dae_op_ready (s, name, false, DAE_TENSORS (dx, dw, db, dy, x, w)) ||
      !check_linear (s, name, dy, x, w, db))
    return;
  if ((dx && !dae_tensor_same_shape (dx, x)) || (dw && !dae_tensor_same_shape (dw, w))) {
    dae_op_fail (s, name, "a gradient's shape differs from its tensor's");
    return;
  }
  DAE_OP_RUN (s, name, linear_backward, dx, dw, db, dy, x, w);
}

static bool
check_conv (DaeStream * s, const char *name, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, const DaeConvArgs * a)
{
  if (!y || !x || !w || !a)
    return dae_op_fail (s, name, "missing tensor");
  if (a->ksize != 1 && a->ksize != 3)
    return dae_op_fail (s, name, "kernel size %d (1 or 3 supported)", a->ksize);
  return dae_op_shape (s, name, "w", w, y->c, x->c, a->ksize, a->ksize) &&
      dae_op_shape (s, name, "y", y, x->n, -1, x->h, x->w) &&
      (!b || dae_op_shape (s, name, "b", b, 1, y->c, 1, 1));
}

void
dae_conv2d_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, const DaeConvArgs * a)
{
  const char *name = "conv2d_forward";
  if (dae_op_ready (s, name, false, DAE_TENSORS (y, x, w, b)) &&
      check_conv (s, name, y, x, w, b, a))
    DAE_OP_RUN (s, name, conv2d_forward, y, x, w, b, a);
}

void
dae_conv2d_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w,
    const DaeConvArgs * a)
{
  const char *name = "conv2d_backward";
  if (!dx && !dw && !db)
    return;
  if (!dae_op_ready (s, name, false, DAE_TENSORS (dx, dw, db, dy, x, w)) ||
      !check_conv (s, name, dy, x, w, db, a))
    return;
  if ((dx && !dae_tensor_same_shape (dx, x)) || (dw && !dae_tensor_same_shape (dw, w))) {
    dae_op_fail (s, name, "a gradient's shape differs from its tensor's");
    return;
  }
  DAE_OP_RUN (s, name, conv2d_backward, dx, dw, db, dy, x, w, a);
}
