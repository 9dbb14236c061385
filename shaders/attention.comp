#version 450
// The non-GEMM parts of single-head attention (the three matrix products per direction are
// dae_vk_gemm calls, see compute/vulkan/vk_ops_attention.c).
//
// -DOP_SCALE_QK: dst = a * the q and k chunks of qkv (N, 3C, T), a = C^-1/4, so that the
//   scores round like PyTorch's einsum of (q * a) and (k * a); per sample q transposed
//   (T, C), then k (C, T), so that the scores' GEMM reads both contiguously along C.
// -DOP_SOFTMAX: the rows of x (rows, T) in place: exp(x - max) / sum, fp32.
// -DOP_SOFTMAX_BWD: x holds dP (rows, T); becomes dS = P * (dP - sum_s dP * P), P = y.
//
// Row ops: ROW_LANES lanes (specialisation constant 1, a power of two dividing the workgroup
// width) share one row and combine their partial max/sum through shared memory. lavapipe:
// ROW_LANES = 1 (a lane per row, no barriers); GPUs: e.g. 32 or 64 lanes per row.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D
layout(constant_id = 1) const uint ROW_LANES = 1;

DAE_BUFFER(0, x)
DAE_BUFFER_RO(1, y)

DAE_PARAMS_BEGIN
  uint count;       // rows: number of rows
  uint T;           // row length (positions)
  uint ct;          // C * T (scale)
  float a;          // C^-1/4 (scale)
DAE_PARAMS_END

#if defined(OP_SCALE_QK)

// Launched as (elements of one sample / DAE_LOCAL_X, samples).
void main() {
  uint j = gl_GlobalInvocationID.x, n = gl_WorkGroupID.y;
  if (j >= 2 * p.ct)
    return;
  uint dst = j;
  if (j < p.ct) {
    uint c = j / p.T, t = j - c * p.T;
    dst = t * (p.ct / p.T) + c;
  }
  x[p.base[0] + n * 2 * p.ct + dst] = y[p.base[1] + n * 3 * p.ct + j] * p.a;
}

#else

shared float partial[DAE_LOCAL_X];

// Combines v over the ROW_LANES lanes of a row (max or sum); every lane gets the result.
// Called in uniform control flow: ROW_LANES is a constant.
float row_combine(float v, bool take_max) {
  if (ROW_LANES == 1)
    return v;
  uint lid = gl_LocalInvocationID.x, sub = lid % ROW_LANES;
  partial[lid] = v;
  memoryBarrierShared();
  barrier();
  for (uint w = ROW_LANES / 2; w > 0; w >>= 1) {
    if (sub < w)
      partial[lid] = take_max ? max(partial[lid], partial[lid + w]) : partial[lid] + partial[lid + w];
    memoryBarrierShared();
    barrier();
  }
  float r = partial[lid - sub];
  barrier();        // partial is reused by the next call
  return r;
}

void main() {
  uint rows_per_group = DAE_LOCAL_X / ROW_LANES;
  uint lid = gl_LocalInvocationID.x, sub = lid % ROW_LANES;
  uint row = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * rows_per_group
      + lid / ROW_LANES;
  // Lanes past the last row touch no memory but still reach the barriers.
  uint len = row < p.count ? p.T : 0;
  uint xr = p.base[0] + row * p.T;
#if defined(OP_SOFTMAX)
  float m = -1.0 / 0.0;
  for (uint s = sub; s < len; s += ROW_LANES)
    m = max(m, x[xr + s]);
  m = row_combine(m, true);
  float sum = 0.0;
  for (uint s = sub; s < len; s += ROW_LANES) {
    float e = exp(x[xr + s] - m);
    sum += e;
    x[xr + s] = e;
  }
  float inv = 1.0 / row_combine(sum, false);
  for (uint s = sub; s < len; s += ROW_LANES)
    x[xr + s] *= inv;
#else
  uint yr = p.base[1] + row * p.T;
  float dot = 0.0;
  for (uint s = sub; s < len; s += ROW_LANES)
    dot += x[xr + s] * y[yr + s];
  dot = row_combine(dot, false);
  for (uint s = sub; s < len; s += ROW_LANES)
    x[xr + s] = y[yr + s] * (x[xr + s] - dot);
#endif
}

#endif
