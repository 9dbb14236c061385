/* Noise schedules and their respacing to fewer steps (DESIGN.md section 3), in float64. */
#ifndef DAE_SCHEDULE_H
#define DAE_SCHEDULE_H

#include "core/dae_error.h"
#include "ops/dae_ops.h"

#define DAE_T 1000

typedef enum {
  DAE_SCHEDULE_LINEAR,            /* betas = linspace(1e-4, 0.02, 1000): the image model */
  DAE_SCHEDULE_CONST_0008,        /* betas = 0.008: the latent net */
} DaeScheduleKind;

/* abar[t] = prod_{s<=t} (1 - beta_s), t = 0..999. */
void dae_schedule_abar (DaeScheduleKind kind, double abar[DAE_T]);

/* The kept steps of a respacing to `steps` steps, as the published "ddimN" spacing: the
 * smallest stride s with len(range(0, 1000, s)) == steps; kept = 0, s, 2s, ...
 * Returns DAE_ERR_INVALID (naming the nearest counts that work) when no stride gives it. */
typedef struct {
  int steps;
  int t[DAE_T];                   /* original timestep of kept step k (what the model sees) */
  double abar[DAE_T];             /* abar at kept step k */
} DaeRespacing;

DaeStatus dae_respace (DaeScheduleKind kind, int steps, DaeRespacing * out, DaeError * err);

/* The arguments of dae_ddim_update for kept step k:
 * decode (k = steps-1 .. 0): to abar_prev (1 before the first kept step);
 * invert (k = 0 .. steps-1): to abar_next (0 after the last). */
DaeDdimArgs dae_ddim_decode_args (const DaeRespacing * r, int k, bool clip);
DaeDdimArgs dae_ddim_invert_args (const DaeRespacing * r, int k, bool clip);

/* Training: coefficients of x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps. */
void dae_q_sample_coefs (DaeScheduleKind kind, int t, float *sqrt_abar, float *sqrt_1m_abar);

#endif
