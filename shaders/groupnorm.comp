#version 450
// GroupNorm fused with its modulation, SiLU and dropout (dae_groupnorm_forward/backward in
// compute/ops/dae_ops.h). Per (sample n, channel c) the whole affine part is
//   u = xh * a + b,  xh = (x - mean) * rstd,
//   a = gamma (1+scale)(1+zscale),  b = (beta (1+scale) + shift)(1+zscale),
// then y = dropout(silu(u)). The pair (a, b) of every (n, c), the "coef", sits at the start of
// the op's scratch tensor, the reduction partials after it.
//
// Variants (-D):
//  OP_GN_STATS       forward, grid (chunks, N*G): one workgroup reduces one chunk of a group
//                    to (mean, M2); the chunk-0 workgroup also writes the group's coef.
//  OP_GN_APPLY       forward, grid (blocks of hw, N*C): combines the chunk partials of its group
//                    (a few uniform loads), writes y, and the first block writes stats; with
//                    VEC4 (gn_apply_vec4, lavapipe) four elements per load and store.
//  OP_GN_BWD_SUMS    backward, grid (chunks, N*C): S1 = sum du, S2 = sum du xh and
//                    H0 = sum du (xh gamma + beta) over one chunk of a plane (du: the gradient at
//                    u); the chunk-0 workgroup writes the plane's coef.
//  OP_GN_BWD_PARAMS  backward, 1-D over N*C + C: dscaleshift and dzscale of each (n, c), then
//                    dgamma and dbeta of each c summed over samples in order.
//  OP_GN_BWD_DX      backward, grid (blocks of hw, N*C):
//                    dx += rstd (du a - mean_g(du a) - xh mean_g(du a xh)).
// Reductions are deterministic: fixed per-lane order, subgroupAdd, then subgroups in order.
// Specialisation constants: 0 = workgroup width, 1 = elements per lane (apply and dx passes).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D
layout(constant_id = 1) const uint PER_LANE = 4;

DAE_PARAMS_BEGIN
  uint N, C, cpg, hw;   // cpg: channels per group
  uint chunk, chunks;   // reduction: elements per chunk, chunks per group (or per plane)
  uint flags;
  float eps;
  float dropout, keep_scale;
  uint seed;
DAE_PARAMS_END

const uint F_SILU = 1u, F_SCALESHIFT = 2u, F_ZSCALE = 4u;
const uint F_DGAMMA = 8u, F_DBETA = 16u, F_DSCALESHIFT = 32u, F_DZSCALE = 64u;

bool has(uint f) { return (p.flags & f) != 0u; }

// Sum over the workgroup, the same value in every lane. With one subgroup per workgroup (the
// lavapipe profile) there is no shared memory and no barrier.
shared float wg_partial[DAE_LOCAL_X];

float wg_sum(float v) {
  v = subgroupAdd(v);
  if (gl_NumSubgroups == 1u)
    return v;
  if (subgroupElect())
    wg_partial[gl_SubgroupID] = v;
  barrier();
  float total = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; i++)
    total += wg_partial[i];
  barrier();
  return total;
}

// y = dropout(silu(u)) for the element of logical NCHW index idx.
float activate(float u, uint idx) {
  float v = has(F_SILU) ? dae_silu(u) : u;
  if (p.dropout > 0.0)
    v = dae_dropout_keep(p.seed, idx, p.dropout) ? v * p.keep_scale : 0.0;
  return v;
}

// d y / d u times dy.
float activate_grad(float u, float dy, uint idx) {
  float du = dy;
  if (p.dropout > 0.0)
    du = dae_dropout_keep(p.seed, idx, p.dropout) ? du * p.keep_scale : 0.0;
  return has(F_SILU) ? du * dae_silu_grad(u) : du;
}

#if defined(OP_GN_STATS)
DAE_BUFFER(0, scratch)        // coef (2 N C), then partials (mean, M2) per (group, chunk)
DAE_BUFFER_RO(1, x)
DAE_BUFFER_RO(2, gamma)
DAE_BUFFER_RO(3, beta)
DAE_BUFFER_RO(4, scaleshift)
DAE_BUFFER_RO(5, zscale)
#define MOD_BASE 2              // first of the four parameter bindings
#elif defined(OP_GN_BWD_SUMS)
DAE_BUFFER(0, scratch)        // coef (2 N C), then partials (S1, S2, H0) per (plane, chunk)
DAE_BUFFER_RO(1, x)
DAE_BUFFER_RO(2, dy)
DAE_BUFFER_RO(3, stats)
DAE_BUFFER_RO(4, gamma)
DAE_BUFFER_RO(5, beta)
DAE_BUFFER_RO(6, scaleshift)
DAE_BUFFER_RO(7, zscale)
#define MOD_BASE 4
#endif

#if defined(OP_GN_STATS) || defined(OP_GN_BWD_SUMS)
// (a, b) of sample n, channel c from gamma, beta, scaleshift and zscale.
float gamma_of(uint c) { return gamma[p.base[MOD_BASE] + c]; }
float beta_of(uint c) { return beta[p.base[MOD_BASE + 1] + c]; }

vec2 coef_of(uint n, uint c) {
  float s = 0.0, sh = 0.0, z = 0.0;
  if (has(F_SCALESHIFT)) {
    s = scaleshift[p.base[MOD_BASE + 2] + n * 2u * p.C + c];
    sh = scaleshift[p.base[MOD_BASE + 2] + n * 2u * p.C + p.C + c];
  }
  if (has(F_ZSCALE))
    z = zscale[p.base[MOD_BASE + 3] + n * p.C + c];
  return vec2(gamma_of(c) * (1.0 + s) * (1.0 + z), (beta_of(c) * (1.0 + s) + sh) * (1.0 + z));
}
#endif

#if defined(OP_GN_STATS)
void main() {
  uint lane = gl_LocalInvocationID.x, chunk = gl_WorkGroupID.x, g = gl_WorkGroupID.y;
  uint len = p.cpg * p.hw;
  uint start = chunk * p.chunk, end = min(start + p.chunk, len);
  uint xb = p.base[1] + g * len;
  // Per lane: sums of (x - k) with k the lane's first value (no cancellation when the mean
  // is large against the spread), then the lanes' (count, mean, M2) merged exactly.
  float k = start + lane < end ? x[xb + start + lane] : 0.0;
  float s1 = 0.0, s2 = 0.0, cnt = 0.0;
  for (uint i = start + lane; i < end; i += DAE_LOCAL_X) {
    float d = x[xb + i] - k;
    s1 += d;
    s2 += d * d;
    cnt += 1.0;
  }
  float lane_mean = cnt > 0.0 ? k + s1 / cnt : 0.0;
  float lane_m2 = cnt > 0.0 ? max(s2 - s1 * s1 / cnt, 0.0) : 0.0;
  float mean = wg_sum(cnt * lane_mean) / float(end - start);
  float dm = lane_mean - mean;
  float m2 = wg_sum(lane_m2 + cnt * dm * dm);
  uint pb = p.base[0] + 2u * p.N * p.C + 2u * (g * p.chunks + chunk);
  if (lane == 0u) {
    scratch[pb] = mean;
    scratch[pb + 1u] = m2;
  }
  if (chunk == 0u) {
    uint groups = p.C / p.cpg, n = g / groups, c0 = (g % groups) * p.cpg;
    for (uint j = lane; j < p.cpg; j += DAE_LOCAL_X) {
      vec2 ab = coef_of(n, c0 + j);
      scratch[p.base[0] + 2u * (n * p.C + c0 + j)] = ab.x;
      scratch[p.base[0] + 2u * (n * p.C + c0 + j) + 1u] = ab.y;
    }
  }
}

#elif defined(OP_GN_APPLY)
DAE_BUFFER_WO(0, y)
DAE_BUFFER_RO(1, x)
#ifdef VEC4
layout(std430, set = 0, binding = 0) writeonly buffer Buffer0v { vec4 y4[]; };
layout(set = 0, binding = 9) uniform samplerBuffer x_texels;   // binding 1 as vec4 texels
#endif
DAE_BUFFER_RO(2, scratch)
DAE_BUFFER_WO(3, stats)

void main() {
  uint lane = gl_LocalInvocationID.x, nc = gl_WorkGroupID.y;
  uint n = nc / p.C, c = nc % p.C, groups = p.C / p.cpg, g = n * groups + c / p.cpg;
  // the group's statistics from its chunk partials (uniform across the workgroup)
  uint len = p.cpg * p.hw, pb = p.base[2] + 2u * p.N * p.C + 2u * g * p.chunks;
  float mean = 0.0;
  for (uint k = 0u; k < p.chunks; k++)
    mean += float(min(p.chunk, len - k * p.chunk)) * scratch[pb + 2u * k];
  mean /= float(len);
  float m2 = 0.0;
  for (uint k = 0u; k < p.chunks; k++) {
    float d = scratch[pb + 2u * k] - mean;
    m2 += scratch[pb + 2u * k + 1u] + float(min(p.chunk, len - k * p.chunk)) * d * d;
  }
  float rstd = inversesqrt(m2 / float(len) + p.eps);
  if (gl_WorkGroupID.x == 0u && c % p.cpg == 0u && lane == 0u) {
    stats[p.base[3] + 2u * g] = mean;
    stats[p.base[3] + 2u * g + 1u] = rstd;
  }
  float a = scratch[p.base[2] + 2u * nc], b = scratch[p.base[2] + 2u * nc + 1u];
  float scale = rstd * a;
#ifdef VEC4
  // Four consecutive elements per lane and step: one vec4 texel fetch and one vec4 store
  // where lavapipe would loop over the SIMD lanes four times for each (the host takes this
  // variant when HW and both tensors' offsets are multiples of 4).
  uint i0 = gl_WorkGroupID.x * DAE_LOCAL_X * PER_LANE + 4u * lane;
  for (uint j = 0u; j < PER_LANE / 4u; j++) {
    uint i = i0 + j * DAE_LOCAL_X * 4u;
    if (i < p.hw) {
      uint idx = nc * p.hw + i;
      vec4 xv = texelFetch(x_texels, int((p.base[1] + idx) / 4u)), v;
      [[unroll]] for (uint q = 0u; q < 4u; q++)
        v[q] = activate((xv[q] - mean) * scale + b, idx + q);
      y4[(p.base[0] + idx) / 4u] = v;
    }
  }
#else
  uint i0 = gl_WorkGroupID.x * DAE_LOCAL_X * PER_LANE + lane;
  for (uint j = 0u; j < PER_LANE; j++) {
    uint i = i0 + j * DAE_LOCAL_X;
    if (i < p.hw) {
      uint idx = nc * p.hw + i;
      y[p.base[0] + idx] = activate((x[p.base[1] + idx] - mean) * scale + b, idx);
    }
  }
#endif
}

#elif defined(OP_GN_BWD_SUMS)
void main() {
  uint lane = gl_LocalInvocationID.x, chunk = gl_WorkGroupID.x, nc = gl_WorkGroupID.y;
  uint n = nc / p.C, c = nc % p.C, g = n * (p.C / p.cpg) + c / p.cpg;
  float mean = stats[p.base[3] + 2u * g], rstd = stats[p.base[3] + 2u * g + 1u];
  vec2 ab = coef_of(n, c);
  float scale = rstd * ab.x;
  uint start = chunk * p.chunk, end = min(start + p.chunk, p.hw);
  float s1 = 0.0, s2 = 0.0;
  for (uint i = start + lane; i < end; i += DAE_LOCAL_X) {
    uint idx = nc * p.hw + i;
    float xv = x[p.base[1] + idx];
    float du = activate_grad((xv - mean) * scale + ab.y, dy[p.base[2] + idx], idx);
    s1 += du;
    s2 += du * ((xv - mean) * rstd);
  }
  s1 = wg_sum(s1);
  s2 = wg_sum(s2);
  if (lane == 0u) {
    uint pb = p.base[0] + 2u * p.N * p.C + 3u * (nc * p.chunks + chunk);
    scratch[pb] = s1;
    scratch[pb + 1u] = s2;
    scratch[pb + 2u] = gamma_of(c) * s2 + beta_of(c) * s1;
    if (chunk == 0u) {
      scratch[p.base[0] + 2u * nc] = ab.x;
      scratch[p.base[0] + 2u * nc + 1u] = ab.y;
    }
  }
}

#elif defined(OP_GN_BWD_PARAMS)
DAE_BUFFER(0, dscaleshift)
DAE_BUFFER(1, dzscale)
DAE_BUFFER(2, dgamma)
DAE_BUFFER(3, dbeta)
DAE_BUFFER_RO(4, scratch)
DAE_BUFFER_RO(5, scaleshift)
DAE_BUFFER_RO(6, zscale)

// The plane's (S1, S2, H0), chunks summed in order.
vec3 plane_sums(uint nc) {
  uint pb = p.base[4] + 2u * p.N * p.C + 3u * nc * p.chunks;
  vec3 s = vec3(0.0);
  for (uint k = 0u; k < p.chunks; k++)
    s += vec3(scratch[pb + 3u * k], scratch[pb + 3u * k + 1u], scratch[pb + 3u * k + 2u]);
  return s;
}

float scale_of(uint n, uint c) {
  return has(F_SCALESHIFT) ? scaleshift[p.base[5] + n * 2u * p.C + c] : 0.0;
}

float shift_of(uint n, uint c) {
  return has(F_SCALESHIFT) ? scaleshift[p.base[5] + n * 2u * p.C + p.C + c] : 0.0;
}

float zscale_of(uint n, uint c) {
  return has(F_ZSCALE) ? zscale[p.base[6] + n * p.C + c] : 0.0;
}

void main() {
  uint id = dae_linear_id();
  if (id < p.N * p.C) {
    // du reaches u = h1 (1+z) with h1 = h0 (1+s) + shift, h0 = xh gamma + beta
    uint n = id / p.C, c = id % p.C;
    vec3 s = plane_sums(id);
    if (has(F_DZSCALE))
      dzscale[p.base[1] + id] += (1.0 + scale_of(n, c)) * s.z + shift_of(n, c) * s.x;
    if (has(F_DSCALESHIFT)) {
      float z1 = 1.0 + zscale_of(n, c);
      dscaleshift[p.base[0] + n * 2u * p.C + c] += z1 * s.z;
      dscaleshift[p.base[0] + n * 2u * p.C + p.C + c] += z1 * s.x;
    }
  } else if (id < p.N * p.C + p.C) {
    uint c = id - p.N * p.C;
    float dg = 0.0, db = 0.0;
    for (uint n = 0u; n < p.N; n++) {
      vec3 s = plane_sums(n * p.C + c);
      float f = (1.0 + scale_of(n, c)) * (1.0 + zscale_of(n, c));
      dg += f * s.y;
      db += f * s.x;
    }
    if (has(F_DGAMMA))
      dgamma[p.base[2] + c] += dg;
    if (has(F_DBETA))
      dbeta[p.base[3] + c] += db;
  }
}

#elif defined(OP_GN_BWD_DX)
DAE_BUFFER(0, dx)
DAE_BUFFER_RO(1, x)
DAE_BUFFER_RO(2, dy)
DAE_BUFFER_RO(3, stats)
DAE_BUFFER_RO(4, scratch)

void main() {
  uint lane = gl_LocalInvocationID.x, nc = gl_WorkGroupID.y;
  uint n = nc / p.C, c = nc % p.C, g = n * (p.C / p.cpg) + c / p.cpg;
  float mean = stats[p.base[3] + 2u * g], rstd = stats[p.base[3] + 2u * g + 1u];
  // the group means of dxh = du a and of dxh xh (uniform across the workgroup)
  uint first = n * p.C + c - c % p.cpg;
  float m1 = 0.0, m2 = 0.0;
  for (uint j = 0u; j < p.cpg; j++) {
    uint pb = p.base[4] + 2u * p.N * p.C + 3u * (first + j) * p.chunks;
    float s1 = 0.0, s2 = 0.0;
    for (uint k = 0u; k < p.chunks; k++) {
      s1 += scratch[pb + 3u * k];
      s2 += scratch[pb + 3u * k + 1u];
    }
    float aj = scratch[p.base[4] + 2u * (first + j)];
    m1 += aj * s1;
    m2 += aj * s2;
  }
  m1 /= float(p.cpg * p.hw);
  m2 /= float(p.cpg * p.hw);
  float a = scratch[p.base[4] + 2u * nc], b = scratch[p.base[4] + 2u * nc + 1u];
  float scale = rstd * a;
  uint i0 = gl_WorkGroupID.x * DAE_LOCAL_X * PER_LANE + lane;
  for (uint j = 0u; j < PER_LANE; j++) {
    uint i = i0 + j * DAE_LOCAL_X;
    if (i < p.hw) {
      uint idx = nc * p.hw + i;
      float xv = x[p.base[1] + idx];
      float du = activate_grad((xv - mean) * scale + b, dy[p.base[2] + idx], idx);
      dx[p.base[0] + idx] += rstd * (du * a - m1 - (xv - mean) * rstd * m2);
    }
  }
}
#endif
