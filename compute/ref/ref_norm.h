/* Plain-C reference of the norm op family in double precision: naive loops that are easy to
 * check by eye, used by the tests as ground truth for both backends and for finite
 * differences. Same argument order as compute/ops/dae_ops.h; arrays are NCHW.
 * The backward functions recompute the statistics from x (so that they are the exact
 * derivative of the forward) and ADD into every gradient that is not NULL. */
#ifndef DAE_REF_NORM_H
#define DAE_REF_NORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fused GroupNorm of dae_groupnorm_forward (see dae_ops.h for the order of the steps). */
typedef struct {
  int n, c, h, w, groups;
  double eps;
  const double *gamma, *beta;   /* (c) */
  const double *scaleshift;     /* (n, 2c) or NULL */
  const double *zscale;         /* (n, c) or NULL */
  bool silu;
  float dropout;                /* same float as the op's, so that the mask is the op's */
  uint32_t seed;
} RefGroupNorm;

/* stats (n, groups, 2): mean and 1/sqrt(biased variance + eps); may be NULL. */
void ref_groupnorm_forward (double *y, double *stats, const double *x, const RefGroupNorm * a);
void ref_groupnorm_backward (double *dx, double *dgamma, double *dbeta, double *dscaleshift,
    double *dzscale, const double *dy, const double *x, const RefGroupNorm * a);

/* The fused LayerNorm of dae_layernorm_forward over the c features of each sample. */
typedef struct {
  int n, c;
  double eps;
  const double *gamma, *beta;   /* (c) */
  const double *prescale;       /* (n, c) or NULL */
  bool silu;
  float dropout;
  uint32_t seed;
} RefLayerNorm;

void ref_layernorm_forward (double *y, double *stats, const double *x, const RefLayerNorm * a);
void ref_layernorm_backward (double *dx, double *dgamma, double *dbeta, double *dprescale,
    const double *dy, const double *x, const RefLayerNorm * a);

/* The factor dropout applies to element i (its logical NCHW index): 0 when dropped,
 * 1/(1-p) when kept, 1 without dropout. */
double ref_dropout_factor (uint32_t seed, size_t i, float p);

#endif
