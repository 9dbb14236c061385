/* Plain-C reference of the diffusion op family in double precision: naive loops that are easy to
 * check by eye, used by the tests as ground truth for both backends and for finite
 * differences. Same argument order as compute/ops/dae_ops.h; arrays are flat. */
#ifndef DAE_REF_DIFFUSION_H
#define DAE_REF_DIFFUSION_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  double sqrt_recip_abar, sqrt_recipm1_abar;
  double sqrt_abar_to, sqrt_1m_abar_to;
  bool clip;
} RefDdimArgs;

/* One DDIM move on n elements (dae_ddim_update); out may be x. */
void ref_ddim_update (double *out, const double *x, const double *eps_hat, size_t n,
    const RefDdimArgs * a);

#endif
