#include "metrics.h"

#include <glib.h>
#include <math.h>

double
tr_mse (const float *a, const float *b, int channels, int size)
{
  size_t n = (size_t) channels * size * size;
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    double d = 0.5 * ((double) a[i] - b[i]);    /* the difference on the [0, 1] scale */
    s += d * d;
  }
  return s / n;
}

double
tr_psnr (double mse)
{
  return 10.0 * log10 (1.0 / fmax (mse, 1e-20));
}

/* Weighted local means, variances and covariance of one window position. */
static double
ssim_at (const double *x, const double *y, int size, int px, int py, const double *w, int k)
{
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
  for (int v = 0; v < k; v++)
    for (int u = 0; u < k; u++) {
      double g = w[v * k + u], a = x[(py + v) * size + px + u], b = y[(py + v) * size + px + u];
      mx += g * a;
      my += g * b;
      sxx += g * a * a;
      syy += g * b * b;
      sxy += g * a * b;
    }
  sxx -= mx * mx;
  syy -= my * my;
  sxy -= mx * my;
  return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
}

double
tr_ssim (const float *a, const float *b, int channels, int size)
{
  int k = MIN (11, size % 2 ? size : size - 1);
  double *w = g_new (double, k * k), total = 0;
  for (int v = 0; v < k; v++)
    for (int u = 0; u < k; u++) {
      double dx = u - (k - 1) / 2.0, dy = v - (k - 1) / 2.0;
      total += w[v * k + u] = exp (-(dx * dx + dy * dy) / (2 * 1.5 * 1.5));
    }
  for (int i = 0; i < k * k; i++)
    w[i] /= total;
  size_t plane = (size_t) size * size;
  double *x = g_new (double, plane), *y = g_new (double, plane), sum = 0;
  int positions = size - k + 1;
  for (int c = 0; c < channels; c++) {
    for (size_t i = 0; i < plane; i++) {
      x[i] = 0.5 * a[c * plane + i] + 0.5;
      y[i] = 0.5 * b[c * plane + i] + 0.5;
    }
    double s = 0;
    for (int py = 0; py < positions; py++)
      for (int px = 0; px < positions; px++)
        s += ssim_at (x, y, size, px, py, w, k);
    sum += s / ((double) positions * positions);
  }
  g_free (w);
  g_free (x);
  g_free (y);
  return sum / channels;
}
