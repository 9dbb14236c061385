/* Plain-C reference of the train op family in double precision: naive loops that are easy to
 * check by eye, used by the tests as ground truth for both backends and for finite
 * differences. Same argument order as compute/ops/dae_ops.h; arrays are flat. */
#ifndef DAE_REF_TRAIN_H
#define DAE_REF_TRAIN_H

#include <stdbool.h>
#include <stddef.h>

/* Returns mean((pred - target)^2); dpred (nullable) += grad_scale * 2 (pred - target) / n. */
double ref_mse_loss (double *dpred, const double *pred, const double *target, size_t n,
    double grad_scale);
/* Returns mean(|pred - target|); dpred (nullable) += grad_scale * sign(pred - target) / n. */
double ref_l1_loss (double *dpred, const double *pred, const double *target, size_t n,
    double grad_scale);

/* Sum of x^2. */
double ref_sumsq (const double *x, size_t n);
/* min(1, max_norm / (sqrt(sum of the k slots) + 1e-6)). */
double ref_clip_factor (const double *sumsq, size_t k, double max_norm);

typedef struct {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  int step;
  double grad_scale;            /* 1 when the op gets no grad_scale tensor */
} RefAdamArgs;

/* One step of torch.optim.Adam (decoupled: AdamW) on n elements. */
void ref_adam_update (double *param, const double *grad, double *m, double *v, size_t n,
    const RefAdamArgs * a);
/* ema = decay * ema + (1 - decay) * param. */
void ref_ema_update (double *ema, const double *param, size_t n, double decay);

#endif
