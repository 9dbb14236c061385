#include "ref_diffusion.h"

#include <math.h>

void
ref_ddim_update (double *out, const double *x, const double *eps_hat, size_t n,
    const RefDdimArgs * a)
{
  for (size_t i = 0; i < n; i++) {
    double x0 = a->sqrt_recip_abar * x[i] - a->sqrt_recipm1_abar * eps_hat[i];
    if (a->clip)
      x0 = fmin (1.0, fmax (-1.0, x0));
    double eps = (a->sqrt_recip_abar * x[i] - x0) / a->sqrt_recipm1_abar;
    out[i] = a->sqrt_abar_to * x0 + a->sqrt_1m_abar_to * eps;
  }
}
