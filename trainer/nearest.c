/* Nearest training images: a plain scan over the pool. Each pool image is converted once and
 * compared with every query, so the 8-bit set is read once (50,000 32x32 RGB images against
 * 64 queries: ~10 GFLOP, seconds). */
#include "nearest.h"

#include <float.h>
#include <glib.h>

void
tr_nearest (const TrImageSet * set, const int *pool, int n_pool, const float *queries,
    int n_queries, int *best, double *best_mse)
{
  size_t per = tr_image_set_image_floats (set);
  float *img = g_new (float, per);
  for (int q = 0; q < n_queries; q++) {
    best[q] = -1;
    best_mse[q] = DBL_MAX;
  }
  for (int p = 0; p < n_pool; p++) {
    tr_image_set_get (set, pool[p], img);
    for (int q = 0; q < n_queries; q++) {
      const float *x = queries + per * q;
      double sum = 0;
      for (size_t i = 0; i < per; i++) {
        double d = (double) x[i] - img[i];
        sum += d * d;
      }
      /* [-1, 1] differences are twice those on the [0, 1] scale */
      double mse = sum / (4.0 * (double) per);
      if (mse < best_mse[q]) {
        best_mse[q] = mse;
        best[q] = pool[p];
      }
    }
  }
  g_free (img);
}
