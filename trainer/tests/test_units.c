/* Unit tests of the trainer's host code: the area resize, the split and the data order, the
 * metrics, the nearest-image search and the logistic regression. */
#include "../data.h"
#include "../image_io.h"
#include "../logreg.h"
#include "../metrics.h"
#include "../nearest.h"

#include <glib.h>
#include <math.h>
#include <string.h>

static void
test_resize (void)
{
  /* A 2x downscale is the mean of 2x2 blocks; a constant stays constant at any ratio. */
  uint8_t src[6 * 4], out[4];
  for (int i = 0; i < 24; i++)
    src[i] = (uint8_t) (i * 10);
  tr_crop_resize (src, 6, 4, 1, 2, out);      /* centre crop: columns 1..4 */
  g_assert_cmpint (out[0], ==, (10 + 20 + 70 + 80 + 2) / 4);
  g_assert_cmpint (out[3], ==, (150 + 160 + 210 + 220 + 2) / 4);
  uint8_t flat[7 * 7 * 3], small[3 * 3 * 3];
  memset (flat, 77, sizeof flat);
  tr_crop_resize (flat, 7, 7, 3, 3, small);
  for (size_t i = 0; i < sizeof small; i++)
    g_assert_cmpint (small[i], ==, 77);
}

static void
test_split_and_order (void)
{
  TrSplit a, b;
  tr_split_make (100, 10, 3, &a);
  tr_split_make (100, 10, 3, &b);
  g_assert_cmpint (a.n_test, ==, 10);
  g_assert_cmpint (a.n_train, ==, 90);
  g_assert_cmpmem (a.test, 10 * sizeof (int), b.test, 10 * sizeof (int));
  bool seen[100] = { false };
  for (int i = 0; i < a.n_train; i++)
    seen[a.train[i]] = true;
  for (int i = 0; i < a.n_test; i++) {
    g_assert_false (seen[a.test[i]]);
    seen[a.test[i]] = true;
  }
  /* Batches of one epoch cover the pool once; a batch depends only on its step. */
  TrSampler s, t;
  tr_sampler_init (&s, a.train, a.n_train, 9);
  tr_sampler_init (&t, a.train, a.n_train, 9);
  int batch[9], again[9], count[100] = { 0 };
  for (int step = 0; step < 10; step++) {
    tr_sampler_batch (&s, step, 9, batch);
    for (int i = 0; i < 9; i++)
      count[batch[i]]++;
  }
  for (int i = 0; i < a.n_train; i++)
    g_assert_cmpint (count[a.train[i]], ==, 1);
  tr_sampler_batch (&s, 37, 9, batch);
  tr_sampler_batch (&t, 37, 9, again);
  g_assert_cmpmem (batch, sizeof batch, again, sizeof again);
  tr_sampler_clear (&s);
  tr_sampler_clear (&t);
  tr_split_clear (&a);
  tr_split_clear (&b);
}

static void
test_metrics (void)
{
  const int size = 16, n = size * size;
  float x[16 * 16], y[16 * 16];
  for (int i = 0; i < n; i++) {
    x[i] = sinf (i * 0.37f) * 0.8f;
    y[i] = x[i] + 0.1f * cosf (i * 1.7f);
  }
  g_assert_cmpfloat (fabs (tr_ssim (x, x, 1, size) - 1), <, 1e-9);
  g_assert_cmpfloat (tr_mse (x, x, 1, size), ==, 0);
  double mse = tr_mse (x, y, 1, size), ssim = tr_ssim (x, y, 1, size);
  g_assert_cmpfloat (mse, >, 0);
  g_assert_cmpfloat (fabs (tr_psnr (mse) - 10 * log10 (1 / mse)), <, 1e-9);
  g_assert_cmpfloat (ssim, <, 1);
  g_assert_cmpfloat (ssim, >, 0);
  /* A uniform [-1, 1] image against zeros: MSE on the [0, 1] scale is 1/4 of the squares. */
  float one[4] = { 1, -1, 1, -1 }, zero[4] = { 0 };
  g_assert_cmpfloat (fabs (tr_mse (one, zero, 1, 2) - 0.25), <, 1e-12);
}

static void
test_nearest (void)
{
  /* Four 2x2 grey images; a query equal to one of the pool finds it at MSE 0, a query
   * between two finds the closer, and an image outside the pool is never returned. */
  uint8_t pixels[4 * 4] = { 0, 0, 0, 0, 255, 255, 255, 255, 128, 128, 128, 128, 10, 0, 0, 0 };
  TrImageSet set = {.count = 4,.channels = 1,.size = 2,.pixels = pixels };
  int pool[3] = { 0, 1, 2 }, best[3];
  double mse[3];
  float q[3 * 4];
  tr_image_set_get (&set, 1, q);
  tr_image_set_get (&set, 3, q + 4);  /* nearest in the pool: image 0 */
  for (int i = 0; i < 4; i++)
    q[8 + i] = 0.6f;            /* 204 in 8 bits: nearer 255 than 128 */
  tr_nearest (&set, pool, 3, q, 3, best, mse);
  g_assert_cmpint (best[0], ==, 1);
  g_assert_cmpfloat (mse[0], ==, 0);
  g_assert_cmpint (best[1], ==, 0);
  g_assert_cmpfloat (fabs (mse[1] - tr_mse (q + 4, (float[4]) {-1, -1, -1, -1}, 1, 2)), <, 1e-9);
  g_assert_cmpint (best[2], ==, 1);
}

static void
test_logreg (void)
{
  /* Three Gaussian clusters in 5-D, well apart: nearly perfectly separable. */
  enum { N = 300, D = 5, K = 3 };
  float x[N * D], r[N * D];
  int y[N];
  dae_gaussian_noise (1, 0, r, N * D);
  for (int i = 0; i < N; i++) {
    y[i] = i % K;
    for (int j = 0; j < D; j++)
      x[i * D + j] = r[i * D + j] * 0.5f + (j == y[i] ? 3.0f : 0.0f);
  }
  TrLogReg m = { 0 };
  tr_logreg_fit (&m, x, N, D, y, K, 1e-4, 300);
  g_assert_cmpfloat (tr_logreg_accuracy (&m, x, N, y), >, 0.98);
  tr_logreg_clear (&m);
}

/* Noisy two-class data in many dimensions: one informative feature among D, so that a long
 * unregularised fit overfits and the selection has something to choose. */
static void
overfit_data (float *x, int *y, int n, int d, uint64_t seed)
{
  dae_gaussian_noise (seed, 0, x, (size_t) n * d);
  for (int i = 0; i < n; i++) {
    y[i] = (i * 7 + 3) % 11 < 5;
    x[(size_t) i * d] += y[i] ? 0.6f : -0.6f;
  }
}

static double
validation_accuracy_by_hand (const float *x, const int *y, int n, int d, double l2, int iters)
{
  /* The fifth is built here independently of logreg.c: rows 4, 9, 14, ... */
  int nv = 0, nf = 0;
  float *fx = g_new (float, (size_t) n * d), *vx = g_new (float, (size_t) n * d);
  int *fy = g_new (int, n), *vy = g_new (int, n);
  for (int i = 0; i < n; i++) {
    if (i % 5 == 4) {
      memcpy (vx + (size_t) nv * d, x + (size_t) i * d, sizeof (float) * d);
      vy[nv++] = y[i];
    } else {
      memcpy (fx + (size_t) nf * d, x + (size_t) i * d, sizeof (float) * d);
      fy[nf++] = y[i];
    }
  }
  TrLogReg m = { 0 };
  tr_logreg_fit (&m, fx, nf, d, fy, 2, l2, iters);
  double acc = tr_logreg_accuracy (&m, vx, nv, vy);
  tr_logreg_clear (&m);
  g_free (fx);
  g_free (vx);
  g_free (fy);
  g_free (vy);
  return acc;
}

static void
test_logreg_select (void)
{
  enum { N = 200, D = 120 };
  float *x = g_new (float, N * D);
  int y[N];
  overfit_data (x, y, N, D, 5);

  /* Iterating in pieces is the same optimisation as one call. */
  TrLogReg whole = { 0 }, pieces = { 0 };
  tr_logreg_fit (&whole, x, N, D, y, 2, 1e-3, 300);
  TrLogRegFit *f = tr_logreg_fit_new (x, N, D, y, 2, 1e-3);
  tr_logreg_fit_iterate (f, 100);
  tr_logreg_fit_iterate (f, 200);
  tr_logreg_fit_free (f, &pieces);
  g_assert_cmpmem (whole.w, sizeof (float) * 2 * D, pieces.w, sizeof (float) * 2 * D);
  tr_logreg_clear (&whole);
  tr_logreg_clear (&pieces);

  /* The choice is the best of the grid on the validation fifth, recomputed by hand. */
  const double grid[] = { 1e-4, 1e-1 };
  const int iters[] = { 25, 50, 100, 200, 400, 800 };
  TrLogRegChoice c = tr_logreg_select (x, N, D, y, 2, grid, 2, 800, false);
  double best = -1;
  for (int a = 0; a < 2; a++)
    for (int j = 0; j < 6; j++)
      best = fmax (best, validation_accuracy_by_hand (x, y, N, D, grid[a], iters[j]));
  g_assert_cmpfloat (c.validation_accuracy, ==, best);
  g_assert_cmpfloat (validation_accuracy_by_hand (x, y, N, D, c.l2, c.iterations), ==, best);
  /* 120 features for 160 rows: the least regularised, longest fit must not be the choice. */
  g_assert_true (c.l2 != grid[0] || c.iterations != 800);
  g_assert_cmpfloat (best, >, validation_accuracy_by_hand (x, y, N, D, grid[0], 800));

  /* McNemar: 1 of 10 discordant pairs against 9: 2 (C(10,0) + C(10,1)) / 2^10. */
  g_assert_cmpfloat (fabs (tr_mcnemar_p (1, 9) - 22.0 / 1024), <, 1e-12);
  g_assert_cmpfloat (fabs (tr_mcnemar_p (9, 1) - 22.0 / 1024), <, 1e-12);
  g_assert_cmpfloat (tr_mcnemar_p (5, 5), ==, 1);
  g_assert_cmpfloat (tr_mcnemar_p (0, 0), ==, 1);
  g_assert_cmpfloat (tr_mcnemar_p (0, 40), <, 1e-11);

  TrLogRegChoice fixed = tr_logreg_select (x, N, D, y, 2, grid, 2, 300, true);
  g_assert_cmpint (fixed.iterations, ==, 300);
  g_free (x);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trainer/resize", test_resize);
  g_test_add_func ("/trainer/split-order", test_split_and_order);
  g_test_add_func ("/trainer/metrics", test_metrics);
  g_test_add_func ("/trainer/nearest", test_nearest);
  g_test_add_func ("/trainer/logreg", test_logreg);
  g_test_add_func ("/trainer/logreg-select", test_logreg_select);
  return g_test_run ();
}
