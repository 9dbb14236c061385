/* CPU: the DDIM update (see compute/ops/dae_ops.h). */
#include "cpu_backend.h"

static void
cpu_ddim_update (DaeStream * s, const DaeTensor * out, const DaeTensor * x,
    const DaeTensor * eps_hat, const DaeDdimArgs * a)
{
  (void) s;
  float *op = dae_cpu_ptr (out);
  const float *xp = dae_cpu_ptr (x), *ep = dae_cpu_ptr (eps_hat);
  const float sra = a->sqrt_recip_abar, srm1 = a->sqrt_recipm1_abar;
  const float to_x0 = a->sqrt_abar_to, to_eps = a->sqrt_1m_abar_to;
  const bool clip = a->clip;
  size_t n = dae_tensor_numel (out);
  /* out may be x: each element is read before it is written. One image's worth of
   * elements per call: on the calling thread. */
  for (size_t i = 0; i < n; i++) {
    float xi = xp[i];
    float x0 = sra * xi - srm1 * ep[i];
    if (clip)
      x0 = x0 < -1.0f ? -1.0f : x0 > 1.0f ? 1.0f : x0;
    float eps = (sra * xi - x0) / srm1;
    op[i] = to_x0 * x0 + to_eps * eps;
  }
}

void
dae_cpu_register_diffusion (DaeOpsTable * t)
{
  t->ddim_update = cpu_ddim_update;
}
