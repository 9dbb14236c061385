#include "ref_gemm.h"

void
ref_linear_forward (double *y, const double *x, const double *w, const double *b,
    int n, int in, int out, bool accumulate)
{
  for (int s = 0; s < n; s++)
    for (int o = 0; o < out; o++) {
      double acc = b ? b[o] : 0.0;
      for (int i = 0; i < in; i++)
        acc += x[s * in + i] * w[o * in + i];
      y[s * out + o] = (accumulate ? y[s * out + o] : 0.0) + acc;
    }
}

void
ref_linear_backward (double *dx, double *dw, double *db, const double *dy,
    const double *x, const double *w, int n, int in, int out)
{
  for (int s = 0; s < n; s++)
    for (int o = 0; o < out; o++) {
      double g = dy[s * out + o];
      for (int i = 0; i < in; i++) {
        if (dx)
          dx[s * in + i] += g * w[o * in + i];
        if (dw)
          dw[o * in + i] += g * x[s * in + i];
      }
      if (db)
        db[o] += g;
    }
}

/* Index of x[s][c][yy][xx], or -1 in the zero padding. */
static long
pixel (const RefConvShape * sh, int s, int c, int channels, int yy, int xx)
{
  if (yy < 0 || yy >= sh->h || xx < 0 || xx >= sh->w)
    return -1;
  return (((long) s * channels + c) * sh->h + yy) * sh->w + xx;
}

void
ref_conv2d_forward (double *y, const double *x, const double *w, const double *b,
    const RefConvShape * sh, bool accumulate)
{
  int k = sh->k, pad = k / 2;
  for (int s = 0; s < sh->n; s++)
    for (int co = 0; co < sh->cout; co++)
      for (int py = 0; py < sh->h; py++)
        for (int px = 0; px < sh->w; px++) {
          double acc = b ? b[co] : 0.0;
          for (int ci = 0; ci < sh->cin; ci++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                long xi = pixel (sh, s, ci, sh->cin, py + ky - pad, px + kx - pad);
                if (xi >= 0)
                  acc += x[xi] * w[((co * sh->cin + ci) * k + ky) * k + kx];
              }
          long yi = pixel (sh, s, co, sh->cout, py, px);
          y[yi] = (accumulate ? y[yi] : 0.0) + acc;
        }
}

void
ref_conv2d_backward (double *dx, double *dw, double *db, const double *dy,
    const double *x, const double *w, const RefConvShape * sh)
{
  int k = sh->k, pad = k / 2;
  for (int s = 0; s < sh->n; s++)
    for (int co = 0; co < sh->cout; co++)
      for (int py = 0; py < sh->h; py++)
        for (int px = 0; px < sh->w; px++) {
          double g = dy[pixel (sh, s, co, sh->cout, py, px)];
          if (db)
            db[co] += g;
          for (int ci = 0; ci < sh->cin; ci++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                long xi = pixel (sh, s, ci, sh->cin, py + ky - pad, px + kx - pad);
                long wi = ((co * sh->cin + ci) * k + ky) * k + kx;
                if (xi < 0)
                  continue;
                if (dx)
                  dx[xi] += g * w[wi];
                if (dw)
                  dw[wi] += g * x[xi];
              }
        }
}
