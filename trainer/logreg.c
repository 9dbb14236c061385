#include "logreg.h"

#include <cblas.h>
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void
tr_logreg_clear (TrLogReg * m)
{
  g_free (m->w);
  g_free (m->b);
  m->w = m->b = NULL;
}

/* logits (n x k) = x w^T + b */
static void
logits (const TrLogReg * m, const float *w, const float *b, const float *x, int n, float *out)
{
  for (int i = 0; i < n; i++)
    memcpy (out + (size_t) i * m->k, b, sizeof (float) * m->k);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, m->k, m->d, 1.0f, x, m->d, w, m->d,
      1.0f, out, m->k);
}

/* Softmax rows in place; returns the mean cross-entropy against y. */
static double
softmax_xent (float *z, int n, int k, const int *y)
{
  double loss = 0;
  for (int i = 0; i < n; i++) {
    float *r = z + (size_t) i * k, mx = r[0];
    for (int j = 1; j < k; j++)
      mx = fmaxf (mx, r[j]);
    double sum = 0;
    for (int j = 0; j < k; j++)
      sum += r[j] = expf (r[j] - mx);
    for (int j = 0; j < k; j++)
      r[j] = (float) (r[j] / sum);
    loss -= log (fmax (r[y[i]], 1e-30));
  }
  return loss / n;
}

/* Largest eigenvalue of (x^T x)/n with a bias column of ones, by power iteration: the
 * curvature bound that makes 1/L a safe step. */
static double
curvature (const float *x, int n, int d)
{
  float *v = g_new (float, d + 1), *xv = g_new (float, n);
  for (int j = 0; j <= d; j++)
    v[j] = 1.0f / sqrtf ((float) d + 1);
  double lambda = 1;
  for (int it = 0; it < 30; it++) {
    cblas_sgemv (CblasRowMajor, CblasNoTrans, n, d, 1.0f, x, d, v, 1, 0.0f, xv, 1);
    double bias = 0;
    for (int i = 0; i < n; i++)
      bias += xv[i] += v[d];
    cblas_sgemv (CblasRowMajor, CblasTrans, n, d, 1.0f / n, x, d, xv, 1, 0.0f, v, 1);
    v[d] = (float) (bias / n);
    double norm = cblas_snrm2 (d + 1, v, 1);
    lambda = norm;
    for (int j = 0; j <= d; j++)
      v[j] = (float) (v[j] / fmax (norm, 1e-30));
  }
  g_free (v);
  g_free (xv);
  return lambda * 1.05;         /* the power iteration approaches from below */
}

/* Loss and gradient (gw k x d, gb k) at (w, b). */
static double
loss_grad (const TrLogReg * m, const float *w, const float *b, const float *x, int n,
    const int *y, double l2, float *p, float *gw, float *gb)
{
  logits (m, w, b, x, n, p);
  double loss = softmax_xent (p, n, m->k, y);
  for (int i = 0; i < n; i++)
    p[(size_t) i * m->k + y[i]] -= 1.0f;
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, m->k, m->d, n, 1.0f / n, p, m->k, x,
      m->d, 0.0f, gw, m->d);
  for (int j = 0; j < m->k; j++) {
    double s = 0;
    for (int i = 0; i < n; i++)
      s += p[(size_t) i * m->k + j];
    gb[j] = (float) (s / n);
  }
  double reg = 0;
  for (size_t j = 0; j < (size_t) m->k * m->d; j++) {
    reg += (double) w[j] * w[j];
    gw[j] += (float) (l2 * w[j]);
  }
  return loss + 0.5 * l2 * reg;
}

void
tr_logreg_fit (TrLogReg * m, const float *x, int n, int d, const int *y, int k, double l2,
    int iterations)
{
  size_t kd = (size_t) k * d;
  m->k = k;
  m->d = d;
  m->w = g_new0 (float, kd);
  m->b = g_new0 (float, k);
  /* Softmax cross-entropy has curvature at most 1/2 of the features' (Boehning's bound). */
  double step = 1.0 / (0.5 * curvature (x, n, d) + l2);
  float *yw = g_memdup2 (m->w, kd * sizeof (float)), *yb = g_new0 (float, k);
  float *pw = g_new0 (float, kd), *pb = g_new0 (float, k);
  float *gw = g_new (float, kd), *gb = g_new (float, k), *p = g_new (float, (size_t) n * k);
  double t = 1, last = INFINITY;
  for (int it = 0; it < iterations; it++) {
    double loss = loss_grad (m, yw, yb, x, n, y, l2, p, gw, gb);
    if (loss > last) {          /* restart: momentum overshot */
      t = 1;
      memcpy (yw, m->w, kd * sizeof (float));
      memcpy (yb, m->b, sizeof (float) * k);
      loss = loss_grad (m, yw, yb, x, n, y, l2, p, gw, gb);
    }
    last = loss;
    memcpy (pw, m->w, kd * sizeof (float));
    memcpy (pb, m->b, sizeof (float) * k);
    for (size_t j = 0; j < kd; j++)
      m->w[j] = yw[j] - (float) step * gw[j];
    for (int j = 0; j < k; j++)
      m->b[j] = yb[j] - (float) step * gb[j];
    double t_next = (1 + sqrt (1 + 4 * t * t)) / 2, mom = (t - 1) / t_next;
    for (size_t j = 0; j < kd; j++)
      yw[j] = m->w[j] + (float) mom * (m->w[j] - pw[j]);
    for (int j = 0; j < k; j++)
      yb[j] = m->b[j] + (float) mom * (m->b[j] - pb[j]);
    t = t_next;
  }
  g_free (yw);
  g_free (yb);
  g_free (pw);
  g_free (pb);
  g_free (gw);
  g_free (gb);
  g_free (p);
}

void
tr_logreg_predict (const TrLogReg * m, const float *x, int n, int *out)
{
  float *z = g_new (float, (size_t) n * m->k);
  logits (m, m->w, m->b, x, n, z);
  for (int i = 0; i < n; i++) {
    const float *r = z + (size_t) i * m->k;
    int best = 0;
    for (int j = 1; j < m->k; j++)
      if (r[j] > r[best])
        best = j;
    out[i] = best;
  }
  g_free (z);
}

double
tr_logreg_accuracy (const TrLogReg * m, const float *x, int n, const int *y)
{
  if (n == 0)
    return 0;
  int *pred = g_new (int, n), right = 0;
  tr_logreg_predict (m, x, n, pred);
  for (int i = 0; i < n; i++)
    right += pred[i] == y[i];
  g_free (pred);
  return (double) right / n;
}

void
tr_standardise_fit (const float *x, int n, int d, float *mean, float *std)
{
  for (int j = 0; j < d; j++) {
    double s = 0, sq = 0;
    for (int i = 0; i < n; i++) {
      double v = x[(size_t) i * d + j];
      s += v;
      sq += v * v;
    }
    double mu = s / MAX (n, 1), var = sq / MAX (n, 1) - mu * mu;
    mean[j] = (float) mu;
    std[j] = var > 1e-12 ? (float) sqrt (var) : 1.0f;
  }
}

void
tr_standardise (float *x, int n, int d, const float *mean, const float *std)
{
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      x[(size_t) i * d + j] = (x[(size_t) i * d + j] - mean[j]) / std[j];
}
