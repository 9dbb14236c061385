#version 450
// LayerNorm of the latent net fused with its prescale, SiLU and dropout
// (dae_layernorm_forward/backward in compute/ops/dae_ops.h), over the C features of a sample:
//   h = x (1 + prescale), hh = (h - mean) rstd, u = hh gamma + beta, y = dropout(silu(u)).
//
// Variants (-D):
//  OP_LN_FWD         one workgroup per sample: statistics, stats, y.
//  OP_LN_BWD_DX      one workgroup per sample: sums of dhh = du gamma and dhh hh, then
//                    dh = rstd (dhh - mean(dhh) - hh mean(dhh hh)), dx += dh (1 + prescale),
//                    dprescale += dh x.
//  OP_LN_BWD_PARAMS  one invocation per feature c: dgamma += sum_n du hh, dbeta += sum_n du,
//                    samples in order (deterministic).
// Specialisation constant 0: the workgroup width.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D

DAE_PARAMS_BEGIN
  uint N, C;
  uint flags;
  float eps;
  float dropout, keep_scale;
  uint seed;
DAE_PARAMS_END

const uint F_SILU = 1u, F_PRESCALE = 2u, F_DX = 4u, F_DPRESCALE = 8u, F_DGAMMA = 16u,
    F_DBETA = 32u;

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

float activate(float u, uint idx) {
  float v = has(F_SILU) ? dae_silu(u) : u;
  if (p.dropout > 0.0)
    v = dae_dropout_keep(p.seed, idx, p.dropout) ? v * p.keep_scale : 0.0;
  return v;
}

float activate_grad(float u, float dy, uint idx) {
  float du = dy;
  if (p.dropout > 0.0)
    du = dae_dropout_keep(p.seed, idx, p.dropout) ? du * p.keep_scale : 0.0;
  return has(F_SILU) ? du * dae_silu_grad(u) : du;
}

#if defined(OP_LN_FWD)
DAE_BUFFER_WO(0, y)
DAE_BUFFER_WO(1, stats)
DAE_BUFFER_RO(2, x)
DAE_BUFFER_RO(3, gamma)
DAE_BUFFER_RO(4, beta)
DAE_BUFFER_RO(5, prescale)
#define X_BINDING 2
#define PRESCALE_BINDING 5
#define GAMMA_BINDING 3
#else
DAE_BUFFER(0, grad0)           // BWD_DX: dx; BWD_PARAMS: dgamma
DAE_BUFFER(1, grad1)           // BWD_DX: dprescale; BWD_PARAMS: dbeta
DAE_BUFFER_RO(2, dy)
DAE_BUFFER_RO(3, x)
DAE_BUFFER_RO(4, stats)
DAE_BUFFER_RO(5, gamma)
DAE_BUFFER_RO(6, beta)
DAE_BUFFER_RO(7, prescale)
#define X_BINDING 3
#define PRESCALE_BINDING 7
#define GAMMA_BINDING 5
#endif

// h = x (1 + prescale) of element idx = n C + c.
float input_of(uint idx) {
  float v = x[p.base[X_BINDING] + idx];
  return has(F_PRESCALE) ? v * (1.0 + prescale[p.base[PRESCALE_BINDING] + idx]) : v;
}

float gamma_of(uint c) { return gamma[p.base[GAMMA_BINDING] + c]; }
float beta_of(uint c) { return beta[p.base[GAMMA_BINDING + 1] + c]; }

#if defined(OP_LN_FWD)
void main() {
  uint lane = gl_LocalInvocationID.x, n = gl_WorkGroupID.x, row = n * p.C;
  // per lane: sums of (h - k), k its first value; then the lanes merged exactly
  float k = lane < p.C ? input_of(row + lane) : 0.0;
  float s1 = 0.0, s2 = 0.0, cnt = 0.0;
  for (uint c = lane; c < p.C; c += DAE_LOCAL_X) {
    float d = input_of(row + c) - k;
    s1 += d;
    s2 += d * d;
    cnt += 1.0;
  }
  float lane_mean = cnt > 0.0 ? k + s1 / cnt : 0.0;
  float lane_m2 = cnt > 0.0 ? max(s2 - s1 * s1 / cnt, 0.0) : 0.0;
  float mean = wg_sum(cnt * lane_mean) / float(p.C);
  float dm = lane_mean - mean;
  float rstd = inversesqrt(wg_sum(lane_m2 + cnt * dm * dm) / float(p.C) + p.eps);
  if (lane == 0u) {
    stats[p.base[1] + 2u * n] = mean;
    stats[p.base[1] + 2u * n + 1u] = rstd;
  }
  for (uint c = lane; c < p.C; c += DAE_LOCAL_X) {
    float u = (input_of(row + c) - mean) * rstd * gamma_of(c) + beta_of(c);
    y[p.base[0] + row + c] = activate(u, row + c);
  }
}

#elif defined(OP_LN_BWD_DX)
void main() {
  uint lane = gl_LocalInvocationID.x, n = gl_WorkGroupID.x, row = n * p.C;
  float mean = stats[p.base[4] + 2u * n], rstd = stats[p.base[4] + 2u * n + 1u];
  float s1 = 0.0, s2 = 0.0;
  for (uint c = lane; c < p.C; c += DAE_LOCAL_X) {
    float hh = (input_of(row + c) - mean) * rstd;
    float dhh = activate_grad(hh * gamma_of(c) + beta_of(c), dy[p.base[2] + row + c], row + c)
        * gamma_of(c);
    s1 += dhh;
    s2 += dhh * hh;
  }
  float m1 = wg_sum(s1) / float(p.C), m2 = wg_sum(s2) / float(p.C);
  for (uint c = lane; c < p.C; c += DAE_LOCAL_X) {
    float hh = (input_of(row + c) - mean) * rstd;
    float dhh = activate_grad(hh * gamma_of(c) + beta_of(c), dy[p.base[2] + row + c], row + c)
        * gamma_of(c);
    float dh = rstd * (dhh - m1 - hh * m2);
    if (has(F_DX))
      grad0[p.base[0] + row + c] += has(F_PRESCALE) ?
          dh * (1.0 + prescale[p.base[7] + row + c]) : dh;
    if (has(F_DPRESCALE))
      grad1[p.base[1] + row + c] += dh * x[p.base[3] + row + c];
  }
}

#elif defined(OP_LN_BWD_PARAMS)
void main() {
  uint c = dae_linear_id();
  if (c >= p.C)
    return;
  float dg = 0.0, db = 0.0;
  for (uint n = 0u; n < p.N; n++) {
    uint idx = n * p.C + c;
    float hh = (input_of(idx) - stats[p.base[4] + 2u * n]) * stats[p.base[4] + 2u * n + 1u];
    float du = activate_grad(hh * gamma_of(c) + beta_of(c), dy[p.base[2] + idx], idx);
    dg += du * hh;
    db += du;
  }
  if (has(F_DGAMMA))
    grad0[p.base[0] + c] += dg;
  if (has(F_DBETA))
    grad1[p.base[1] + c] += db;
}
#endif
