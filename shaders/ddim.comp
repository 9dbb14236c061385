#version 450
// One deterministic DDIM move (DESIGN.md section 3), elementwise. out may be the same tensor
// as x: each invocation reads its x and eps_hat element before writing that element.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D
DAE_BUFFER(0, dst)
DAE_BUFFER_RO(1, x)
DAE_BUFFER_RO(2, eps_hat)

DAE_PARAMS_BEGIN
  uint count;
  uint clip;
  float sqrt_recip_abar;
  float sqrt_recipm1_abar;
  float sqrt_abar_to;
  float sqrt_1m_abar_to;
DAE_PARAMS_END

void main() {
  uint i = dae_linear_id();
  if (i >= p.count)
    return;
  float xi = x[p.base[1] + i], e = eps_hat[p.base[2] + i];
  float x0 = p.sqrt_recip_abar * xi - p.sqrt_recipm1_abar * e;
  if (p.clip != 0)
    x0 = clamp(x0, -1.0, 1.0);
  float eps = (p.sqrt_recip_abar * xi - x0) / p.sqrt_recipm1_abar;
  dst[p.base[0] + i] = p.sqrt_abar_to * x0 + p.sqrt_1m_abar_to * eps;
}
