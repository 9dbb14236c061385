#version 450
// Pooling, resampling and the timestep embedding (compute/ops/dae_ops.h, basic family). One
// invocation per output element of a 1-D launch (dae_linear_id), except OP_GAP_FWD (one per
// (n, c) plane, summing it in order). Backward variants ADD into dx.
// Variants (-D): OP_AVGPOOL2_FWD, OP_AVGPOOL2_BWD, OP_UPSAMPLE2_FWD, OP_UPSAMPLE2_BWD,
// OP_GAP_FWD, OP_GAP_BWD, OP_TIMESTEP.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D
DAE_BUFFER(0, y)          // the output (dx for the backward variants)
DAE_BUFFER_RO(1, x)       // the input (dy for the backward variants; t for OP_TIMESTEP)
DAE_BUFFER_RO(2, freqs)   // OP_TIMESTEP: f_0 .. f_{half-1} in float32, computed by the host

DAE_PARAMS_BEGIN
  uint count;   // invocations
  uint h, w;    // height and width of the half-size tensor (pooling, resampling);
                // OP_GAP_*: h*w of the plane in h; OP_TIMESTEP: the embedding width in w
DAE_PARAMS_END

// Element (plane, i, j) of a (h, w) image and of its (2h, 2w) double.
uint small_at(uint plane, uint i, uint j) { return (plane * p.h + i) * p.w + j; }
uint large_at(uint plane, uint i, uint j) { return (plane * 2u * p.h + i) * 2u * p.w + j; }

#if defined(OP_TIMESTEP)
// (cos a, sin a) to about 1e-7 for |a| < 8000, independent of the device's own sin/cos
// (GPUs reduce large arguments coarsely): a = k pi/2 + r with pi/2 in three parts (the
// first two short enough that k times them is exact, so an unfused fma loses nothing), then
// Taylor series on |r| <= pi/4.
vec2 cos_sin(float a) {
  float k = roundEven(a * 0.636619772367581343);
  float r = fma(-k, 1.5703125, a);
  r = fma(-k, 4.837512969970703125e-4, r);
  r = fma(-k, 7.54978995489188216e-8, r);
  float r2 = r * r;
  float sn = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0
      + r2 * (1.0 / 362880.0))));
  float cs = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0
      + r2 * (-1.0 / 3628800.0)))));
  uint quadrant = uint(int(k)) & 3u;
  if (quadrant == 0u)
    return vec2(cs, sn);
  if (quadrant == 1u)
    return vec2(-sn, cs);
  if (quadrant == 2u)
    return vec2(-cs, -sn);
  return vec2(sn, -cs);
}
#endif

#if defined(OP_UPSAMPLE2_FWD) && defined(VEC4)
// pool_upsample2_fwd_vec4 (lavapipe): one invocation per pair of input pixels of a row, x
// through a float texel view, the 2x4 outputs as two vec4 stores where lavapipe would loop
// over the SIMD lanes eight times (the host's conditions: w even, y 4-float aligned).
layout(std430, set = 0, binding = 0) writeonly buffer Buffer0v { vec4 y4[]; };
layout(set = 0, binding = 9) uniform samplerBuffer x_texels;

void main() {
  uint id = dae_linear_id();
  if (id >= p.count)
    return;
  uint e = 2u * id, plane = e / (p.h * p.w), r = e - plane * p.h * p.w;
  uint i = r / p.w, j = r - i * p.w;
  float a = texelFetch(x_texels, int(p.base[1] + e)).r;
  float b = texelFetch(x_texels, int(p.base[1] + e + 1u)).r;
  uint top = (p.base[0] + large_at(plane, 2u * i, 2u * j)) / 4u;
  y4[top] = vec4(a, a, b, b);
  y4[top + p.w / 2u] = vec4(a, a, b, b);
}
#else
void main() {
  uint id = dae_linear_id();
  if (id >= p.count)
    return;
  uint yb = p.base[0], xb = p.base[1];
#if defined(OP_AVGPOOL2_FWD)
  // id over the pooled output
  uint plane = id / (p.h * p.w), r = id % (p.h * p.w), i = r / p.w, j = r % p.w;
  y[yb + id] = 0.25 * ((x[xb + large_at(plane, 2u * i, 2u * j)]
      + x[xb + large_at(plane, 2u * i, 2u * j + 1u)])
      + (x[xb + large_at(plane, 2u * i + 1u, 2u * j)]
      + x[xb + large_at(plane, 2u * i + 1u, 2u * j + 1u)]));
#elif defined(OP_AVGPOOL2_BWD)
  // id over dx (full size)
  uint plane = id / (4u * p.h * p.w), r = id % (4u * p.h * p.w);
  uint i = r / (2u * p.w), j = r % (2u * p.w);
  y[yb + id] += 0.25 * x[xb + small_at(plane, i / 2u, j / 2u)];
#elif defined(OP_UPSAMPLE2_FWD)
  // id over the upsampled output
  uint plane = id / (4u * p.h * p.w), r = id % (4u * p.h * p.w);
  uint i = r / (2u * p.w), j = r % (2u * p.w);
  y[yb + id] = x[xb + small_at(plane, i / 2u, j / 2u)];
#elif defined(OP_UPSAMPLE2_BWD)
  // id over dx (half size)
  uint plane = id / (p.h * p.w), r = id % (p.h * p.w), i = r / p.w, j = r % p.w;
  y[yb + id] += (x[xb + large_at(plane, 2u * i, 2u * j)]
      + x[xb + large_at(plane, 2u * i, 2u * j + 1u)])
      + (x[xb + large_at(plane, 2u * i + 1u, 2u * j)]
      + x[xb + large_at(plane, 2u * i + 1u, 2u * j + 1u)]);
#elif defined(OP_GAP_FWD)
  // id over the (n, c) planes of h*w (in p.h) elements
  float sum = 0.0;
  for (uint k = 0u; k < p.h; k++)
    sum += x[xb + id * p.h + k];
  y[yb + id] = sum / float(p.h);
#elif defined(OP_GAP_BWD)
  // id over dx
  y[yb + id] += x[xb + id / p.h] / float(p.h);
#elif defined(OP_TIMESTEP)
  // id over y (N, D), cos first. The frequencies come from the host, bit-identical to
  // PyTorch's float32 ones (a device's exp and division need not be, and lavapipe's fma is
  // not fused); the argument is their float32 product with t, as in PyTorch.
  uint dim = p.w, half_dim = dim / 2u, n = id / dim, j = id % dim, i = j % half_dim;
  precise float arg = x[xb + n] * freqs[p.base[2] + i];
  vec2 cs = cos_sin(arg);
  y[yb + id] = j < half_dim ? cs.x : cs.y;
#endif
}
#endif
