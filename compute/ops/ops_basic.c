/* Elementwise ops, pooling, resampling and the timestep embedding: argument checks. */
#include "ops_common.h"

#include <math.h>

void
dae_fill (DaeStream * s, const DaeTensor * y, float value)
{
  if (dae_op_ready (s, "fill", true, DAE_TENSORS (y)))
    DAE_OP_RUN (s, "fill", fill, y, value);
}

static bool
same_shape (DaeStream * s, const char *name, const DaeTensor * a, const DaeTensor * b)
{
  char sa[64], sb[64];
  if (!a || !b)
    return dae_op_fail (s, name, "missing tensor");
  if (!dae_tensor_same_shape (a, b))
    return dae_op_fail (s, name, "shapes differ: %s vs %s",
        dae_tensor_shape_str (a, sa, sizeof sa), dae_tensor_shape_str (b, sb, sizeof sb));
  return true;
}

void
dae_copy (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  if (dae_op_ready (s, "copy", true, DAE_TENSORS (y, x)) && same_shape (s, "copy", y, x))
    DAE_OP_RUN (s, "copy", copy, y, x);
}

void
dae_axpy (DaeStream * s, const DaeTensor * y, const DaeTensor * x, float alpha)
{
  if (dae_op_ready (s, "axpy", true, DAE_TENSORS (y, x)) && same_shape (s, "axpy", y, x))
    DAE_OP_RUN (s, "axpy", axpy, y, x, alpha);
}

void
dae_silu_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  if (dae_op_ready (s, "silu_forward", false, DAE_TENSORS (y, x)) &&
      same_shape (s, "silu_forward", y, x))
    DAE_OP_RUN (s, "silu_forward", silu_forward, y, x);
}

void
dae_silu_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy,
    const DaeTensor * x)
{
  if (!dx)
    return;
  if (dae_op_ready (s, "silu_backward", false, DAE_TENSORS (dx, dy, x)) &&
      same_shape (s, "silu_backward", dx, dy) && same_shape (s, "silu_backward", dx, x))
    DAE_OP_RUN (s, "silu_backward", silu_backward, dx, dy, x);
}

/* small: (N,C,H,W); large: (N,C,2H,2W). */
static bool
check_resample (DaeStream * s, const char *name, const DaeTensor * large,
    const DaeTensor * small)
{
  if (!dae_op_ready (s, name, false, DAE_TENSORS (large, small)))
    return false;
  if (!large || !small)
    return dae_op_fail (s, name, "missing tensor");
  if (large->h % 2 != 0 || large->w % 2 != 0)
    return dae_op_fail (s, name, "the full-size tensor needs even height and width");
  return dae_op_shape (s, name, "the half-size tensor", small, large->n, large->c,
      large->h / 2, large->w / 2);
}

void
dae_avgpool2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  if (check_resample (s, "avgpool2_forward", x, y))
    DAE_OP_RUN (s, "avgpool2_forward", avgpool2_forward, y, x);
}

void
dae_avgpool2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  if (dx && check_resample (s, "avgpool2_backward", dx, dy))
    DAE_OP_RUN (s, "avgpool2_backward", avgpool2_backward, dx, dy);
}

void
dae_upsample2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  if (check_resample (s, "upsample2_forward", y, x))
    DAE_OP_RUN (s, "upsample2_forward", upsample2_forward, y, x);
}

void
dae_upsample2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  if (dx && check_resample (s, "upsample2_backward", dy, dx))
    DAE_OP_RUN (s, "upsample2_backward", upsample2_backward, dx, dy);
}

void
dae_global_avgpool_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  const char *name = "global_avgpool_forward";
  if (dae_op_ready (s, name, false, DAE_TENSORS (y, x)) && x &&
      dae_op_shape (s, name, "y", y, x->n, x->c, 1, 1))
    DAE_OP_RUN (s, name, global_avgpool_forward, y, x);
}

void
dae_global_avgpool_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  const char *name = "global_avgpool_backward";
  if (dx && dae_op_ready (s, name, false, DAE_TENSORS (dx, dy)) &&
      dae_op_shape (s, name, "dy", dy, dx->n, dx->c, 1, 1))
    DAE_OP_RUN (s, name, global_avgpool_backward, dx, dy);
}

void
dae_timestep_embedding (DaeStream * s, const DaeTensor * y, const DaeTensor * t)
{
  const char *name = "timestep_embedding";
  if (!dae_op_ready (s, name, false, DAE_TENSORS (y, t)) || !y)
    return;
  if (y->h != 1 || y->w != 1 || y->c % 2 != 0)
    dae_op_fail (s, name, "y must be (N,D,1,1) with D even");
  else if (dae_op_shape (s, name, "t", t, y->n, 1, 1, 1))
    DAE_OP_RUN (s, name, timestep_embedding, y, t);
}

/* exp(d) computed as PyTorch's float32 exp on the CPU does it (the vectorised SLEEF expf_u10
 * algorithm: d = q ln2 + s with ln2 in two parts, then its degree-6 polynomial), so that the
 * frequencies are bit-identical to PyTorch's; libm's expf is correctly rounded and differs
 * from it by one ulp for about one frequency in six. Always on the host: a device's exp is not
 * bit-exact, and lavapipe does not fuse fma. */
static float
torch_expf (float d)
{
  float q = rintf (d * 1.442695040888963407359924681001892137f);
  float sr = fmaf (q, -0.693145751953125f, d);
  sr = fmaf (q, -1.428606765330187045e-06f, sr);
  float u = 0.000198527617612853646278381f;
  u = fmaf (u, sr, 0.00139304355252534151077271f);
  u = fmaf (u, sr, 0.00833336077630519866943359f);
  u = fmaf (u, sr, 0.0416664853692054748535156f);
  u = fmaf (u, sr, 0.166666671633720397949219f);
  u = fmaf (u, sr, 0.5f);
  u = 1.0f + fmaf (sr * sr, u, sr);
  return ldexpf (u, (int) q);
}

void
dae_timestep_frequencies (int half, float *freqs)
{
  const float neg_log_period = (float) -log (10000.0);
  for (int i = 0; i < half; i++)
    freqs[i] = torch_expf (neg_log_period * (float) i / (float) half);
}
