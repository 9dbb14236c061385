#include "ref_norm.h"

#include <math.h>
#include <stdlib.h>

#include "ops/dae_ops.h"        /* dae_dropout_keep: the mask every backend shares */

double
ref_dropout_factor (uint32_t seed, size_t i, float p)
{
  if (p <= 0.0f)
    return 1.0;
  return dae_dropout_keep (seed, (uint32_t) i, p) ? 1.0 / (1.0 - (double) p) : 0.0;
}

static double
sigmoid (double u)
{
  return 1.0 / (1.0 + exp (-u));
}

/* ---- GroupNorm ---------------------------------------------------------------------------- */

/* Mean and 1/sqrt(var + eps) of each (sample, group): two passes, biased variance. */
static void
group_stats (double *mean, double *rstd, const double *x, const RefGroupNorm * a)
{
  size_t len = (size_t) (a->c / a->groups) * a->h * a->w;
  for (int g = 0; g < a->n * a->groups; g++) {
    const double *xg = x + g * len;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < len; i++)
      sum += xg[i];
    mean[g] = sum / len;
    for (size_t i = 0; i < len; i++)
      sq += (xg[i] - mean[g]) * (xg[i] - mean[g]);
    rstd[g] = 1.0 / sqrt (sq / len + a->eps);
  }
}

/* The intermediate values of one element (n, c, i), kept for the backward. */
typedef struct {
  double xh;        /* normalised */
  double h0;        /* xh * gamma + beta */
  double h1;        /* after scale and shift */
  double u;         /* after zscale: the input of SiLU */
} GnValues;

static double
scale_of (const RefGroupNorm * a, int n, int c)
{
  return a->scaleshift ? a->scaleshift[(size_t) n * 2 * a->c + c] : 0.0;
}

static double
shift_of (const RefGroupNorm * a, int n, int c)
{
  return a->scaleshift ? a->scaleshift[(size_t) n * 2 * a->c + a->c + c] : 0.0;
}

static double
zscale_of (const RefGroupNorm * a, int n, int c)
{
  return a->zscale ? a->zscale[(size_t) n * a->c + c] : 0.0;
}

static GnValues
gn_values (const RefGroupNorm * a, double x, double mean, double rstd, int n, int c)
{
  GnValues v;
  v.xh = (x - mean) * rstd;
  v.h0 = v.xh * a->gamma[c] + a->beta[c];
  v.h1 = v.h0 * (1.0 + scale_of (a, n, c)) + shift_of (a, n, c);
  v.u = v.h1 * (1.0 + zscale_of (a, n, c));
  return v;
}

void
ref_groupnorm_forward (double *y, double *stats, const double *x, const RefGroupNorm * a)
{
  int ng = a->n * a->groups, cpg = a->c / a->groups;
  size_t hw = (size_t) a->h * a->w;
  double *mean = malloc (ng * sizeof *mean), *rstd = malloc (ng * sizeof *rstd);
  group_stats (mean, rstd, x, a);
  for (int n = 0; n < a->n; n++)
    for (int c = 0; c < a->c; c++) {
      int g = n * a->groups + c / cpg;
      for (size_t i = 0; i < hw; i++) {
        size_t idx = ((size_t) n * a->c + c) * hw + i;
        double u = gn_values (a, x[idx], mean[g], rstd[g], n, c).u;
        double v = a->silu ? u * sigmoid (u) : u;
        y[idx] = v * ref_dropout_factor (a->seed, idx, a->dropout);
      }
    }
  for (int g = 0; stats && g < ng; g++) {
    stats[2 * g] = mean[g];
    stats[2 * g + 1] = rstd[g];
  }
  free (mean);
  free (rstd);
}

void
ref_groupnorm_backward (double *dx, double *dgamma, double *dbeta, double *dscaleshift,
    double *dzscale, const double *dy, const double *x, const RefGroupNorm * a)
{
  int ng = a->n * a->groups, cpg = a->c / a->groups;
  size_t hw = (size_t) a->h * a->w, len = (size_t) cpg * hw;
  double *mean = malloc (ng * sizeof *mean), *rstd = malloc (ng * sizeof *rstd);
  double *dxh = malloc (len * sizeof *dxh), *xh = malloc (len * sizeof *xh);
  group_stats (mean, rstd, x, a);
  for (int n = 0; n < a->n; n++)
    for (int grp = 0; grp < a->groups; grp++) {
      int g = n * a->groups + grp;
      double sum_dxh = 0, sum_dxh_xh = 0;
      for (int k = 0; k < cpg; k++) {
        int c = grp * cpg + k;
        double s = scale_of (a, n, c), z = zscale_of (a, n, c);
        for (size_t i = 0; i < hw; i++) {
          size_t idx = ((size_t) n * a->c + c) * hw + i;
          GnValues v = gn_values (a, x[idx], mean[g], rstd[g], n, c);
          /* back through dropout, SiLU, zscale, scale/shift, the affine, in turn */
          double du = dy[idx] * ref_dropout_factor (a->seed, idx, a->dropout);
          if (a->silu) {
            double sg = sigmoid (v.u);
            du *= sg * (1.0 + v.u * (1.0 - sg));
          }
          if (dzscale)
            dzscale[(size_t) n * a->c + c] += du * v.h1;
          double dh1 = du * (1.0 + z);
          if (dscaleshift) {
            dscaleshift[(size_t) n * 2 * a->c + c] += dh1 * v.h0;
            dscaleshift[(size_t) n * 2 * a->c + a->c + c] += dh1;
          }
          double dh0 = dh1 * (1.0 + s);
          if (dgamma)
            dgamma[c] += dh0 * v.xh;
          if (dbeta)
            dbeta[c] += dh0;
          xh[k * hw + i] = v.xh;
          dxh[k * hw + i] = dh0 * a->gamma[c];
          sum_dxh += dxh[k * hw + i];
          sum_dxh_xh += dxh[k * hw + i] * v.xh;
        }
      }
      /* through the normalisation: dx = rstd (dxh - mean(dxh) - xh mean(dxh xh)) */
      for (size_t j = 0; dx && j < len; j++)
        dx[(size_t) g * len + j] += rstd[g] * (dxh[j] - sum_dxh / len - xh[j] * sum_dxh_xh / len);
    }
  free (mean);
  free (rstd);
  free (dxh);
  free (xh);
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

/* h = x * (1 + prescale) of sample n, and its mean and 1/sqrt(var + eps). */
static void
ln_prepare (double *h, double *mean, double *rstd, const double *x, const RefLayerNorm * a,
    int n)
{
  double sum = 0, sq = 0;
  for (int c = 0; c < a->c; c++) {
    size_t idx = (size_t) n * a->c + c;
    h[c] = x[idx] * (1.0 + (a->prescale ? a->prescale[idx] : 0.0));
    sum += h[c];
  }
  *mean = sum / a->c;
  for (int c = 0; c < a->c; c++)
    sq += (h[c] - *mean) * (h[c] - *mean);
  *rstd = 1.0 / sqrt (sq / a->c + a->eps);
}

void
ref_layernorm_forward (double *y, double *stats, const double *x, const RefLayerNorm * a)
{
  double *h = malloc (a->c * sizeof *h);
  for (int n = 0; n < a->n; n++) {
    double mean, rstd;
    ln_prepare (h, &mean, &rstd, x, a, n);
    for (int c = 0; c < a->c; c++) {
      size_t idx = (size_t) n * a->c + c;
      double u = (h[c] - mean) * rstd * a->gamma[c] + a->beta[c];
      double v = a->silu ? u * sigmoid (u) : u;
      y[idx] = v * ref_dropout_factor (a->seed, idx, a->dropout);
    }
    if (stats) {
      stats[2 * n] = mean;
      stats[2 * n + 1] = rstd;
    }
  }
  free (h);
}

void
ref_layernorm_backward (double *dx, double *dgamma, double *dbeta, double *dprescale,
    const double *dy, const double *x, const RefLayerNorm * a)
{
  double *h = malloc (a->c * sizeof *h), *hh = malloc (a->c * sizeof *hh);
  double *dhh = malloc (a->c * sizeof *dhh);
  for (int n = 0; n < a->n; n++) {
    double mean, rstd, sum_dhh = 0, sum_dhh_hh = 0;
    ln_prepare (h, &mean, &rstd, x, a, n);
    for (int c = 0; c < a->c; c++) {
      size_t idx = (size_t) n * a->c + c;
      hh[c] = (h[c] - mean) * rstd;
      double u = hh[c] * a->gamma[c] + a->beta[c];
      double du = dy[idx] * ref_dropout_factor (a->seed, idx, a->dropout);
      if (a->silu) {
        double sg = sigmoid (u);
        du *= sg * (1.0 + u * (1.0 - sg));
      }
      if (dgamma)
        dgamma[c] += du * hh[c];
      if (dbeta)
        dbeta[c] += du;
      dhh[c] = du * a->gamma[c];
      sum_dhh += dhh[c];
      sum_dhh_hh += dhh[c] * hh[c];
    }
    for (int c = 0; c < a->c; c++) {
      size_t idx = (size_t) n * a->c + c;
      double dh = rstd * (dhh[c] - sum_dhh / a->c - hh[c] * sum_dhh_hh / a->c);
      double ps = a->prescale ? a->prescale[idx] : 0.0;
      if (dx)
        dx[idx] += dh * (1.0 + ps);
      if (dprescale)
        dprescale[idx] += dh * x[idx];
    }
  }
  free (h);
  free (hh);
  free (dhh);
}
