#version 450
// Elementwise ops on (possibly strided) tensors: fill, copy, axpy, and SiLU.
// Compiled once per op with -DOP_FILL, -DOP_COPY, -DOP_AXPY, -DOP_SILU_FWD, -DOP_SILU_BWD.
// fill/copy/axpy accept views: element i of sample n is at n*nstride + i.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D
DAE_BUFFER(0, y)
DAE_BUFFER_RO(1, x)
DAE_BUFFER_RO(2, x2)

DAE_PARAMS_BEGIN
  uint per_sample;  // elements per sample (c*h*w)
  uint count;       // n * sample
  uint y_nstride;
  uint x_nstride;
  float alpha;
DAE_PARAMS_END

#ifdef VEC4
// basic_copy_vec4, basic_axpy_vec4 (lavapipe): one invocation per four consecutive elements,
// x through a vec4 texel view and y as vec4s, where lavapipe would loop over the SIMD lanes
// for each float (the host takes them when per_sample, both nstrides and both offsets are
// multiples of 4).
layout(std430, set = 0, binding = 0) buffer Buffer0v { vec4 y4[]; };
layout(set = 0, binding = 9) uniform samplerBuffer x_texels;

void main() {
  uint i = 4u * dae_linear_id();
  if (i >= p.count)
    return;
  uint n = i / p.per_sample, j = i - n * p.per_sample;
  uint yi = (p.base[0] + n * p.y_nstride + j) / 4u;
  vec4 xv = texelFetch(x_texels, int((p.base[1] + n * p.x_nstride + j) / 4u));
#if defined(OP_COPY)
  y4[yi] = xv;
#elif defined(OP_AXPY)
  y4[yi] += p.alpha * xv;
#endif
}

#else
void main() {
  uint i = dae_linear_id();
  if (i >= p.count)
    return;
  uint n = i / p.per_sample, j = i - n * p.per_sample;
  uint yi = p.base[0] + n * p.y_nstride + j;
  uint xi = p.base[1] + n * p.x_nstride + j;
#if defined(OP_FILL)
  y[yi] = p.alpha;
#elif defined(OP_COPY)
  y[yi] = x[xi];
#elif defined(OP_AXPY)
  y[yi] += p.alpha * x[xi];
#elif defined(OP_SILU_FWD)
  y[yi] = dae_silu(x[xi]);
#elif defined(OP_SILU_BWD)
  // y = dx (accumulated), x = dy, x2 = the forward input
  y[yi] += x[xi] * dae_silu_grad(x2[p.base[2] + n * p.x_nstride + j]);
#endif
}
#endif
