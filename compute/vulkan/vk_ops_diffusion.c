/* Vulkan: the DDIM update (shaders/ddim.comp). */
#include "vk_backend.h"

#define LOCAL 64

typedef struct {
  uint32_t count, clip;
  float sqrt_recip_abar, sqrt_recipm1_abar, sqrt_abar_to, sqrt_1m_abar_to;
} DdimParams;

static void
vk_ddim_update (DaeStream * s, const DaeTensor * out, const DaeTensor * x,
    const DaeTensor * eps_hat, const DaeDdimArgs * a)
{
  size_t count = dae_tensor_numel (out);
  DdimParams p = {
    .count = (uint32_t) count,
    .clip = a->clip,
    .sqrt_recip_abar = a->sqrt_recip_abar,
    .sqrt_recipm1_abar = a->sqrt_recipm1_abar,
    .sqrt_abar_to = a->sqrt_abar_to,
    .sqrt_1m_abar_to = a->sqrt_1m_abar_to,
  };
  /* out may be x (in place): the shader reads each element before writing it. */
  DaeVkArg args[] = { {out, true}, {x, false}, {eps_hat, false} };
  uint32_t gx, gy, spec[] = { LOCAL };
  dae_vk_grid_1d (s, count, LOCAL, &gx, &gy);
  dae_vk_dispatch (s, "ddim_update", spec, 1, args, 3, &p, sizeof p, gx, gy, 1);
}

void
dae_vk_register_diffusion (DaeOpsTable * t)
{
  t->ddim_update = vk_ddim_update;
}
