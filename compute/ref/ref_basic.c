#include "ref_basic.h"

#include <math.h>

void
ref_silu_forward (double *y, const double *x, size_t count)
{
  for (size_t i = 0; i < count; i++)
    y[i] = x[i] / (1.0 + exp (-x[i]));
}

void
ref_silu_backward (double *dx, const double *dy, const double *x, size_t count)
{
  for (size_t i = 0; i < count; i++) {
    double s = 1.0 / (1.0 + exp (-x[i]));
    dx[i] += dy[i] * (s + x[i] * s * (1.0 - s));
  }
}

/* Element (y, x) of plane p of an image of width w. */
#define AT(a, p, plane, w, y, x) ((a)[(size_t) (p) * (plane) + (size_t) (y) * (w) + (x)])

void
ref_avgpool2_forward (double *y, const double *x, int n, int c, int h, int w)
{
  int ho = h / 2, wo = w / 2;
  for (int p = 0; p < n * c; p++)
    for (int i = 0; i < ho; i++)
      for (int j = 0; j < wo; j++)
        AT (y, p, ho * wo, wo, i, j) = 0.25 * (AT (x, p, h * w, w, 2 * i, 2 * j) +
            AT (x, p, h * w, w, 2 * i, 2 * j + 1) + AT (x, p, h * w, w, 2 * i + 1, 2 * j) +
            AT (x, p, h * w, w, 2 * i + 1, 2 * j + 1));
}

void
ref_avgpool2_backward (double *dx, const double *dy, int n, int c, int h, int w)
{
  int ho = h / 2, wo = w / 2;
  for (int p = 0; p < n * c; p++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++)
        AT (dx, p, h * w, w, i, j) += 0.25 * AT (dy, p, ho * wo, wo, i / 2, j / 2);
}

void
ref_upsample2_forward (double *y, const double *x, int n, int c, int h, int w)
{
  for (int p = 0; p < n * c; p++)
    for (int i = 0; i < 2 * h; i++)
      for (int j = 0; j < 2 * w; j++)
        AT (y, p, 4 * h * w, 2 * w, i, j) = AT (x, p, h * w, w, i / 2, j / 2);
}

void
ref_upsample2_backward (double *dx, const double *dy, int n, int c, int h, int w)
{
  for (int p = 0; p < n * c; p++)
    for (int i = 0; i < 2 * h; i++)
      for (int j = 0; j < 2 * w; j++)
        AT (dx, p, h * w, w, i / 2, j / 2) += AT (dy, p, 4 * h * w, 2 * w, i, j);
}

void
ref_global_avgpool_forward (double *y, const double *x, int n, int c, int h, int w)
{
  size_t hw = (size_t) h * w;
  for (int p = 0; p < n * c; p++) {
    double sum = 0;
    for (size_t i = 0; i < hw; i++)
      sum += x[p * hw + i];
    y[p] = sum / (double) hw;
  }
}

void
ref_global_avgpool_backward (double *dx, const double *dy, int n, int c, int h, int w)
{
  size_t hw = (size_t) h * w;
  for (int p = 0; p < n * c; p++)
    for (size_t i = 0; i < hw; i++)
      dx[p * hw + i] += dy[p] / (double) hw;
}

void
ref_timestep_embedding (double *y, const double *t, int n, int dim)
{
  int half = dim / 2;
  for (int s = 0; s < n; s++)
    for (int i = 0; i < half; i++) {
      double arg = t[s] * exp (-log (10000.0) * i / half);
      y[(size_t) s * dim + i] = cos (arg);
      y[(size_t) s * dim + half + i] = sin (arg);
    }
}
