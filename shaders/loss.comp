#version 450
// Losses and gradient norms: deterministic sums and the loss gradients.
//
// Sums (-DOP_SUM with one of -DTERM_SQDIFF, -DTERM_ABSDIFF, -DTERM_SQ, -DTERM_ID): workgroup
// g adds the terms of elements [g*chunk, min(count, (g+1)*chunk)) in a fixed order (each
// lane strides through the chunk, then a tree over the lanes) and writes scale * sum to
// dst[g]. With one workgroup that is the result; with several, a second launch (TERM_ID)
// adds the partial sums. No atomics, so the result is the same on every run.
// -DOP_CLIP: one workgroup adds the gradient-norm slots and writes
// min(1, max_norm / (sqrt(sum) + 1e-6)) (torch.nn.utils.clip_grad_norm_).
// Gradients (-DOP_MSE_GRAD, -DOP_L1_GRAD): dst[i] += coef * d term / d a, coef = scale / n.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D
DAE_BUFFER_RO(0, a)
DAE_BUFFER_RO(1, b)
DAE_BUFFER(2, dst)

DAE_PARAMS_BEGIN
  uint count;
  uint chunk;       // elements per workgroup (sums)
  float scale;      // sums: multiplies the workgroup's sum; gradients: the coefficient
  float max_norm;
DAE_PARAMS_END

#if defined(OP_SUM) || defined(OP_CLIP)

shared float lanes[DAE_LOCAL_X];

float term(uint i) {
#if defined(TERM_SQDIFF)
  float d = a[p.base[0] + i] - b[p.base[1] + i];
  return d * d;
#elif defined(TERM_ABSDIFF)
  return abs(a[p.base[0] + i] - b[p.base[1] + i]);
#elif defined(TERM_SQ)
  float x = a[p.base[0] + i];
  return x * x;
#else
  return a[p.base[0] + i];
#endif
}

void main() {
  uint lid = gl_LocalInvocationID.x, g = gl_WorkGroupID.x;
  uint lo = g * p.chunk, hi = min(p.count, lo + p.chunk);
  float acc0 = 0.0, acc1 = 0.0;
  uint i = lo + lid;
  for (; i + DAE_LOCAL_X < hi; i += 2 * DAE_LOCAL_X) {
    acc0 += term(i);
    acc1 += term(i + DAE_LOCAL_X);
  }
  if (i < hi)
    acc0 += term(i);
  lanes[lid] = acc0 + acc1;
  memoryBarrierShared();
  barrier();
  // DAE_LOCAL_X is a power of two.
  for (uint w = DAE_LOCAL_X / 2; w > 0; w >>= 1) {
    if (lid < w)
      lanes[lid] += lanes[lid + w];
    memoryBarrierShared();
    barrier();
  }
  if (lid == 0) {
#if defined(OP_CLIP)
    dst[p.base[2]] = min(1.0, p.max_norm / (sqrt(lanes[0]) + 1e-6));
#else
    dst[p.base[2] + g] = lanes[0] * p.scale;
#endif
  }
}

#else

void main() {
  uint i = dae_linear_id();
  if (i >= p.count)
    return;
  float d = a[p.base[0] + i] - b[p.base[1] + i];
#if defined(OP_MSE_GRAD)
  dst[p.base[2] + i] += p.scale * 2.0 * d;
#else
  dst[p.base[2] + i] += p.scale * sign(d);
#endif
}

#endif
