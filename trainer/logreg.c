#include "logreg.h"

#include "cpu/cpu_backend.h"

#include <cblas.h>
#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void
tr_logreg_clear (TrLogReg * m)
{
  g_free (m->w);
  g_free (m->b);
  m->w = m->b = NULL;
}

/* The two products per iteration go through the CPU backend's threaded matrix products: once
 * a CPU backend is open OpenBLAS runs on one thread (cpu_backend.c), and version 0.3.21 falls
 * back to its SSE3 kernels on recent x86 CPUs (a 60,000-image probe selection was still in
 * them after 35 minutes). */

/* logits (n x k) = x w^T + b */
static void
logits (const TrLogReg * m, const float *w, const float *b, const float *x, int n, float *out)
{
  for (int i = 0; i < n; i++)
    memcpy (out + (size_t) i * m->k, b, sizeof (float) * m->k);
  dae_cpu_sgemm (CblasNoTrans, CblasTrans, n, m->k, m->d, 1.0f, x, m->d, w, m->d, 1.0f, out,
      m->k);
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
  dae_cpu_sgemm (CblasTrans, CblasNoTrans, m->k, m->d, n, 1.0f / n, p, m->k, x, m->d, 0.0f, gw,
      m->d);
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

/* Nesterov's accelerated gradient with adaptive restart, kept as state between calls so
 * that a caller can read the model after any number of iterations. */
struct TrLogRegFit {
  TrLogReg m;
  const float *x;
  const int *y;
  int n;
  double l2, step, t, last;
  float *yw, *yb, *pw, *pb, *gw, *gb, *p;
};

TrLogRegFit *
tr_logreg_fit_new (const float *x, int n, int d, const int *y, int k, double l2)
{
  size_t kd = (size_t) k * d;
  TrLogRegFit *f = g_new0 (TrLogRegFit, 1);
  f->m = (TrLogReg) { k, d, g_new0 (float, kd), g_new0 (float, k) };
  f->x = x;
  f->y = y;
  f->n = n;
  f->l2 = l2;
  /* Softmax cross-entropy has curvature at most 1/2 of the features' (Boehning's bound). */
  f->step = 1.0 / (0.5 * curvature (x, n, d) + l2);
  f->t = 1;
  f->last = INFINITY;
  f->yw = g_new0 (float, kd);
  f->yb = g_new0 (float, k);
  f->pw = g_new0 (float, kd);
  f->pb = g_new0 (float, k);
  f->gw = g_new (float, kd);
  f->gb = g_new (float, k);
  f->p = g_new (float, (size_t) MAX (n, 1) * k);
  return f;
}

void
tr_logreg_fit_iterate (TrLogRegFit * f, int iterations)
{
  TrLogReg *m = &f->m;
  size_t kd = (size_t) m->k * m->d, kb = sizeof (float) * m->k;
  for (int it = 0; it < iterations; it++) {
    double loss = loss_grad (m, f->yw, f->yb, f->x, f->n, f->y, f->l2, f->p, f->gw, f->gb);
    if (loss > f->last) {       /* restart: momentum overshot */
      f->t = 1;
      memcpy (f->yw, m->w, kd * sizeof (float));
      memcpy (f->yb, m->b, kb);
      loss = loss_grad (m, f->yw, f->yb, f->x, f->n, f->y, f->l2, f->p, f->gw, f->gb);
    }
    f->last = loss;
    memcpy (f->pw, m->w, kd * sizeof (float));
    memcpy (f->pb, m->b, kb);
    for (size_t j = 0; j < kd; j++)
      m->w[j] = f->yw[j] - (float) f->step * f->gw[j];
    for (int j = 0; j < m->k; j++)
      m->b[j] = f->yb[j] - (float) f->step * f->gb[j];
    double t_next = (1 + sqrt (1 + 4 * f->t * f->t)) / 2, mom = (f->t - 1) / t_next;
    for (size_t j = 0; j < kd; j++)
      f->yw[j] = m->w[j] + (float) mom * (m->w[j] - f->pw[j]);
    for (int j = 0; j < m->k; j++)
      f->yb[j] = m->b[j] + (float) mom * (m->b[j] - f->pb[j]);
    f->t = t_next;
  }
}

const TrLogReg *
tr_logreg_fit_model (const TrLogRegFit * f)
{
  return &f->m;
}

void
tr_logreg_fit_free (TrLogRegFit * f, TrLogReg * out)
{
  if (out)
    *out = f->m;
  else
    tr_logreg_clear (&f->m);
  g_free (f->yw);
  g_free (f->yb);
  g_free (f->pw);
  g_free (f->pb);
  g_free (f->gw);
  g_free (f->gb);
  g_free (f->p);
  g_free (f);
}

void
tr_logreg_fit (TrLogReg * m, const float *x, int n, int d, const int *y, int k, double l2,
    int iterations)
{
  TrLogRegFit *f = tr_logreg_fit_new (x, n, d, y, k, l2);
  tr_logreg_fit_iterate (f, iterations);
  tr_logreg_fit_free (f, m);
}

/* Rows i % 5 == 4 go to the validation part, the others to the fitting part. */
static void
split_fifth (const float *x, const int *y, int n, int d, float *fx, int *fy, float *vx,
    int *vy)
{
  for (int i = 0, nf = 0, nv = 0; i < n; i++) {
    bool val = i % 5 == 4;
    memcpy ((val ? vx + (size_t) nv * d : fx + (size_t) nf * d), x + (size_t) i * d,
        sizeof (float) * d);
    *(val ? vy + nv++ : fy + nf++) = y[i];
  }
}

TrLogRegChoice
tr_logreg_select (const float *x, int n, int d, const int *y, int k, const double *l2s,
    int n_l2, int max_iterations, bool fixed_iterations)
{
  int nv = n / 5, nf = n - nv;
  float *fx = g_new (float, (size_t) MAX (nf, 1) * d);
  float *vx = g_new (float, (size_t) MAX (nv, 1) * d);
  int *fy = g_new (int, MAX (nf, 1)), *vy = g_new (int, MAX (nv, 1));
  split_fifth (x, y, n, d, fx, fy, vx, vy);
  /* Early stopping is searched by halving back from max_iterations: it, 1/2, ... 1/32 of it,
   * read in increasing order from one run per L2. */
  int reads = fixed_iterations ? 1 : 6;
  TrLogRegChoice best = { l2s[0], max_iterations, -1 };
  for (int a = 0; a < n_l2; a++) {
    TrLogRegFit *f = tr_logreg_fit_new (fx, nf, d, fy, k, l2s[a]);
    for (int r = reads - 1, done = 0; r >= 0; r--) {
      int next = MAX (max_iterations >> r, 1);
      tr_logreg_fit_iterate (f, next - done);
      done = next;
      double acc = tr_logreg_accuracy (tr_logreg_fit_model (f), vx, nv, vy);
      if (acc > best.validation_accuracy)
        best = (TrLogRegChoice) { l2s[a], done, acc };
    }
    tr_logreg_fit_free (f, NULL);
  }
  g_free (fx);
  g_free (vx);
  g_free (fy);
  g_free (vy);
  return best;
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

double
tr_mcnemar_p (int b, int c)
{
  int n = b + c, lo = MIN (b, c);
  double tail = 0;
  for (int i = 0; i <= lo; i++)
    tail += exp (lgamma (n + 1.0) - lgamma (i + 1.0) - lgamma (n - i + 1.0) - n * M_LN2);
  return fmin (1.0, 2 * tail);
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
