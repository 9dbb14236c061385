#include "ref_train.h"

#include <math.h>

double
ref_mse_loss (double *dpred, const double *pred, const double *target, size_t n,
    double grad_scale)
{
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    double d = pred[i] - target[i];
    sum += d * d;
    if (dpred)
      dpred[i] += grad_scale * 2.0 * d / (double) n;
  }
  return sum / (double) n;
}

double
ref_l1_loss (double *dpred, const double *pred, const double *target, size_t n,
    double grad_scale)
{
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    double d = pred[i] - target[i];
    sum += fabs (d);
    if (dpred)
      dpred[i] += grad_scale * (double) ((d > 0) - (d < 0)) / (double) n;
  }
  return sum / (double) n;
}

double
ref_sumsq (const double *x, size_t n)
{
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += x[i] * x[i];
  return sum;
}

double
ref_clip_factor (const double *sumsq, size_t k, double max_norm)
{
  double total = 0;
  for (size_t i = 0; i < k; i++)
    total += sumsq[i];
  return fmin (1.0, max_norm / (sqrt (total) + 1e-6));
}

void
ref_adam_update (double *param, const double *grad, double *m, double *v, size_t n,
    const RefAdamArgs * a)
{
  double bc1 = 1.0 - pow (a->beta1, a->step), bc2 = 1.0 - pow (a->beta2, a->step);
  for (size_t i = 0; i < n; i++) {
    double g = grad[i] * a->grad_scale;
    if (a->decoupled)
      param[i] *= 1.0 - a->lr * a->weight_decay;
    else
      g += a->weight_decay * param[i];
    m[i] = a->beta1 * m[i] + (1.0 - a->beta1) * g;
    v[i] = a->beta2 * v[i] + (1.0 - a->beta2) * g * g;
    param[i] -= (a->lr / bc1) * m[i] / (sqrt (v[i]) / sqrt (bc2) + a->eps);
  }
}

void
ref_ema_update (double *ema, const double *param, size_t n, double decay)
{
  for (size_t i = 0; i < n; i++)
    ema[i] = decay * ema[i] + (1.0 - decay) * param[i];
}
