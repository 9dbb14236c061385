#include "diffusion/schedule.h"

#include <math.h>
#include <stdio.h>

void
dae_schedule_abar (DaeScheduleKind kind, double abar[DAE_T])
{
  double prod = 1.0;
  for (int t = 0; t < DAE_T; t++) {
    /* np.linspace(1e-4, 0.02, 1000): start + t * (stop - start) / (n - 1) */
    double beta = kind == DAE_SCHEDULE_LINEAR ? 1e-4 + t * (0.02 - 1e-4) / (DAE_T - 1) : 0.008;
    prod *= 1.0 - beta;
    abar[t] = prod;
  }
}

static int
count_for_stride (int stride)
{
  return (DAE_T + stride - 1) / stride;
}

DaeStatus
dae_respace (DaeScheduleKind kind, int steps, DaeRespacing * out, DaeError * err)
{
  int stride = 0;
  for (int s = 1; s < DAE_T && !stride; s++)
    if (count_for_stride (s) == steps)
      stride = s;
  if (steps == DAE_T)
    stride = 1;
  if (!stride) {
    int below = 0, above = 0;
    for (int s = 1; s <= DAE_T; s++) {
      int c = count_for_stride (s);
      if (c < steps && c > below)
        below = c;
      if (c > steps && (!above || c < above))
        above = c;
    }
    return dae_error_set (err, DAE_ERR_INVALID,
        "%d steps cannot be spaced evenly over %d timesteps (the nearest that can: %d and %d)",
        steps, DAE_T, below, above);
  }
  double abar[DAE_T];
  dae_schedule_abar (kind, abar);
  out->steps = steps;
  for (int k = 0; k < steps; k++) {
    out->t[k] = k * stride;
    out->abar[k] = abar[k * stride];
  }
  return DAE_OK;
}

static DaeDdimArgs
ddim_args (double abar, double abar_to, bool clip)
{
  DaeDdimArgs a = {
    .sqrt_recip_abar = (float) sqrt (1.0 / abar),
    .sqrt_recipm1_abar = (float) sqrt (1.0 / abar - 1.0),
    .sqrt_abar_to = (float) sqrt (abar_to),
    .sqrt_1m_abar_to = (float) sqrt (1.0 - abar_to),
    .clip = clip,
  };
  return a;
}

DaeDdimArgs
dae_ddim_decode_args (const DaeRespacing * r, int k, bool clip)
{
  return ddim_args (r->abar[k], k > 0 ? r->abar[k - 1] : 1.0, clip);
}

DaeDdimArgs
dae_ddim_invert_args (const DaeRespacing * r, int k, bool clip)
{
  return ddim_args (r->abar[k], k + 1 < r->steps ? r->abar[k + 1] : 0.0, clip);
}

void
dae_q_sample_coefs (DaeScheduleKind kind, int t, float *sqrt_abar, float *sqrt_1m_abar)
{
  double abar[DAE_T];
  dae_schedule_abar (kind, abar);
  *sqrt_abar = (float) sqrt (abar[t]);
  *sqrt_1m_abar = (float) sqrt (1.0 - abar[t]);
}
