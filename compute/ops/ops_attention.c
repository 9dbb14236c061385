/* Single-head attention: argument checks. */
#include "ops_common.h"

static bool
check_attention (DaeStream * s, const char *name, const DaeTensor * y, const DaeTensor * probs,
    const DaeTensor * qkv)
{
  if (!y || !probs || !qkv)
    return dae_op_fail (s, name, "missing tensor");
  int T = qkv->h * qkv->w;
  return dae_op_shape (s, name, "qkv", qkv, y->n, 3 * y->c, y->h, y->w) &&
      dae_op_shape (s, name, "probs", probs, y->n, 1, T, T);
}

void
dae_attention_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * probs,
    const DaeTensor * qkv)
{
  const char *name = "attention_forward";
  if (dae_op_ready (s, name, false, DAE_TENSORS (y, probs, qkv)) &&
      check_attention (s, name, y, probs, qkv))
    DAE_OP_RUN (s, name, attention_forward, y, probs, qkv);
}

void
dae_attention_backward (DaeStream * s, const DaeTensor * dqkv, const DaeTensor * dy,
    const DaeTensor * qkv, const DaeTensor * probs)
{
  const char *name = "attention_backward";
  if (!dqkv)
    return;
  if (dae_op_ready (s, name, false, DAE_TENSORS (dqkv, dy, qkv, probs)) &&
      check_attention (s, name, dy, probs, qkv) &&
      dae_op_shape (s, name, "dqkv", dqkv, qkv->n, qkv->c, qkv->h, qkv->w))
    DAE_OP_RUN (s, name, attention_backward, dqkv, dy, qkv, probs);
}
