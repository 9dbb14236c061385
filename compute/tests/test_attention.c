/* Tests of the attention op family: the reference backward against central finite
 * differences (double), and both backends' forward and backward against the reference on odd
 * shapes (C = 5/16/64, H x W = 3x5, 4x4, 8x8, 16x16, N = 1 and 2).
 *
 * Usage: test_attention [bench [N C H W [reps]]]. "bench" times forward + backward (default
 * 8 x 256 x 16 x 16) on each backend and prints the per-op profile. */
#include "test_util.h"
#include "ref/ref_attention.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double *
to_double (const float *x, size_t n)
{
  double *d = malloc (n * sizeof *d);
  for (size_t i = 0; i < n; i++)
    d[i] = x[i];
  return d;
}

/* ---- reference backward vs finite differences ------------------------------------------- */

/* sum(w * y(qkv)) */
static double
weighted_output (const double *qkv, const double *w, int N, int C, int T)
{
  double *y = malloc ((size_t) N * C * T * sizeof *y), *P = malloc ((size_t) N * T * T * 8);
  ref_attention_forward (y, P, qkv, N, C, T);
  double sum = 0;
  for (size_t i = 0; i < (size_t) N * C * T; i++)
    sum += w[i] * y[i];
  free (y);
  free (P);
  return sum;
}

static void
test_reference_backward (int N, int C, int H, int W)
{
  const int T = H * W;
  const size_t nq = (size_t) N * 3 * C * T, ny = (size_t) N * C * T;
  DaeTestRng r;
  dae_test_rng_seed (&r, 1000 + C * 7 + T);
  double *qkv = malloc (nq * 8), *w = malloc (ny * 8), *grad = calloc (nq, 8);
  double *y = malloc (ny * 8), *P = malloc ((size_t) N * T * T * 8);
  /* Large enough that the softmax is far from uniform. */
  for (size_t i = 0; i < nq; i++)
    qkv[i] = dae_test_uniform (&r, -2, 2);
  for (size_t i = 0; i < ny; i++)
    w[i] = dae_test_uniform (&r, -1, 1);
  ref_attention_forward (y, P, qkv, N, C, T);
  ref_attention_backward (grad, w, qkv, P, N, C, T);
  const double h = 1e-5;
  double worst = 0, maxgrad = 0;
  for (size_t i = 0; i < nq; i++) {
    double keep = qkv[i];
    qkv[i] = keep + h;
    double up = weighted_output (qkv, w, N, C, T);
    qkv[i] = keep - h;
    double down = weighted_output (qkv, w, N, C, T);
    qkv[i] = keep;
    worst = fmax (worst, fabs ((up - down) / (2 * h) - grad[i]));
    maxgrad = fmax (maxgrad, fabs (grad[i]));
  }
  fprintf (stderr, "reference backward %dx%dx%dx%d vs finite differences: max error %.2e "
      "(relative to max |grad| %.2f)\n", N, C, H, W, worst / maxgrad, maxgrad);
  CHECK (worst / maxgrad < 1e-7, "reference attention backward is off by %g", worst / maxgrad);
  free (qkv);
  free (w);
  free (grad);
  free (y);
  free (P);
}

/* ---- backends vs reference -------------------------------------------------------------- */

typedef struct {
  double y, probs, dq, dk, dv;
} AttnErrors;

/* Max error of each channel chunk of dqkv (q, k, v) relative to that chunk's largest value. */
static void
chunk_errors (const float *got, const double *want, int N, int C, int T, double *out)
{
  size_t CT = (size_t) C * T;
  for (int chunk = 0; chunk < 3; chunk++) {
    double maxref = 1e-30, maxdiff = 0;
    for (int n = 0; n < N; n++)
      for (size_t i = 0; i < CT; i++) {
        size_t j = (size_t) n * 3 * CT + chunk * CT + i;
        maxref = fmax (maxref, fabs (want[j]));
        double d = fabs (got[j] - want[j]);
        maxdiff = (d <= maxdiff) ? maxdiff : (isnan (d) ? INFINITY : d);
      }
    out[chunk] = maxdiff / maxref;
  }
}

static AttnErrors
check_shape (DaeBackend * be, DaeStream * s, int N, int C, int H, int W)
{
  const int T = H * W;
  const size_t nq = (size_t) N * 3 * C * T, ny = (size_t) N * C * T, np = (size_t) N * T * T;
  DaeTestRng r;
  dae_test_rng_seed (&r, (uint64_t) (N * 1000003 + C * 1009 + H * 31 + W));
  float *qkv = malloc (nq * 4), *dy = malloc (ny * 4), *dqkv0 = malloc (nq * 4);
  dae_test_fill_uniform (&r, qkv, nq, -2, 2);
  dae_test_fill_uniform (&r, dy, ny, -1, 1);
  double *qkvd = to_double (qkv, nq), *dyd = to_double (dy, ny);
  double *y = malloc (ny * 8), *P = malloc (np * 8), *grad = calloc (nq, 8);
  ref_attention_forward (y, P, qkvd, N, C, T);
  ref_attention_backward (grad, dyd, qkvd, P, N, C, T);
  /* dqkv starts at values of the gradient's own size, to check that the op adds. */
  double gmax = 0;
  for (size_t i = 0; i < nq; i++)
    gmax = fmax (gmax, fabs (grad[i]));
  dae_test_fill_uniform (&r, dqkv0, nq, (float) -gmax, (float) gmax);
  for (size_t i = 0; i < nq; i++)
    grad[i] += dqkv0[i];

  DaeTensor *tq = dae_test_tensor (be, s, N, 3 * C, H, W, qkv);
  DaeTensor *ty = dae_test_tensor (be, s, N, C, H, W, NULL);
  DaeTensor *tp = dae_test_tensor (be, s, N, 1, T, T, NULL);
  DaeTensor *tdy = dae_test_tensor (be, s, N, C, H, W, dy);
  DaeTensor *tdq = dae_test_tensor (be, s, N, 3 * C, H, W, dqkv0);
  dae_attention_forward (s, ty, tp, tq);
  dae_attention_backward (s, tdq, tdy, tq, tp);
  float *gy = dae_test_read (s, ty), *gp = dae_test_read (s, tp), *gd = dae_test_read (s, tdq);
  AttnErrors e = {
    .y = dae_test_max_rel_error (gy, y, ny, 1e-30),
    .probs = dae_test_max_rel_error (gp, P, np, 1e-30),
  };
  double ce[3];
  chunk_errors (gd, grad, N, C, T, ce);
  e.dq = ce[0];
  e.dk = ce[1];
  e.dv = ce[2];
  const char *bn = dae_backend_kind_name (dae_backend_kind (be));
  CHECK (e.y < 1e-4 && e.probs < 1e-4, "%s attention forward %dx%dx%dx%d: y error %g, probs "
      "error %g", bn, N, C, H, W, e.y, e.probs);
  CHECK (e.dq < 1e-4 && e.dk < 1e-4 && e.dv < 1e-4, "%s attention backward %dx%dx%dx%d: "
      "dq %g dk %g dv %g", bn, N, C, H, W, e.dq, e.dk, e.dv);
  free (gy);
  free (gp);
  free (gd);
  free (qkv);
  free (dy);
  free (dqkv0);
  free (qkvd);
  free (dyd);
  free (y);
  free (P);
  free (grad);
  dae_tensor_free (tq);
  dae_tensor_free (ty);
  dae_tensor_free (tp);
  dae_tensor_free (tdy);
  dae_tensor_free (tdq);
  return e;
}

static void
test_backend (DaeBackend * be, DaeStream * s)
{
  const int sizes[][2] = { {3, 5}, {4, 4}, {8, 8}, {16, 16} };
  const int channels[] = { 5, 16, 64 };
  AttnErrors worst = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  for (size_t hw = 0; hw < G_N_ELEMENTS (sizes); hw++)
    for (size_t c = 0; c < G_N_ELEMENTS (channels); c++)
      for (int N = 1; N <= 2; N++) {
        AttnErrors e = check_shape (be, s, N, channels[c], sizes[hw][0], sizes[hw][1]);
        worst.y = fmax (worst.y, e.y);
        worst.probs = fmax (worst.probs, e.probs);
        worst.dq = fmax (worst.dq, e.dq);
        worst.dk = fmax (worst.dk, e.dk);
        worst.dv = fmax (worst.dv, e.dv);
      }
  DaeError err = { 0 };
  CHECK_OK (dae_stream_sync (s, &err), &err);
  fprintf (stderr, "%s: 24 shapes, max rel errors: y %.1e, probs %.1e, dq %.1e, dk %.1e, "
      "dv %.1e (%.2f s)\n", dae_backend_kind_name (dae_backend_kind (be)), worst.y,
      worst.probs, worst.dq, worst.dk, worst.dv, (g_get_monotonic_time () - t0) * 1e-6);
}

/* ---- benchmark -------------------------------------------------------------------------- */

static void
bench (DaeBackend * be, DaeStream * s, int N, int C, int H, int W, int reps)
{
  const int T = H * W;
  const size_t nq = (size_t) N * 3 * C * T, ny = (size_t) N * C * T;
  DaeTestRng r;
  dae_test_rng_seed (&r, 3);
  float *qkv = malloc (nq * 4), *dy = malloc (ny * 4);
  dae_test_fill_uniform (&r, qkv, nq, -1, 1);
  dae_test_fill_uniform (&r, dy, ny, -1, 1);
  DaeTensor *tq = dae_test_tensor (be, s, N, 3 * C, H, W, qkv);
  DaeTensor *ty = dae_test_tensor (be, s, N, C, H, W, NULL);
  DaeTensor *tp = dae_test_tensor (be, s, N, 1, T, T, NULL);
  DaeTensor *tdy = dae_test_tensor (be, s, N, C, H, W, dy);
  DaeTensor *tdq = dae_test_tensor (be, s, N, 3 * C, H, W, NULL);
  DaeError err = { 0 };
  /* Warm-up: pipelines, scratch, thread pools. */
  dae_attention_forward (s, ty, tp, tq);
  dae_attention_backward (s, tdq, tdy, tq, tp);
  CHECK_OK (dae_stream_sync (s, &err), &err);
  dae_profile_reset ();
  dae_profile_enable (true);
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < reps; i++) {
    dae_attention_forward (s, ty, tp, tq);
    dae_attention_backward (s, tdq, tdy, tq, tp);
    CHECK_OK (dae_stream_sync (s, &err), &err);
  }
  double ms = (g_get_monotonic_time () - t0) * 1e-3 / reps;
  dae_profile_enable (false);
  double gflop = 12.0 * N * C * T * T / 1e9;  /* 2 + 4 products of 2*C*T*T flops */
  printf ("%s: attention forward+backward %dx%dx%dx%d: %.2f ms per iteration "
      "(%.1f GFLOP/s in the products)\n", dae_backend_description (be), N, C, H, W, ms,
      gflop / (ms * 1e-3));
  dae_profile_report (stdout);
  free (qkv);
  free (dy);
  dae_tensor_free (tq);
  dae_tensor_free (ty);
  dae_tensor_free (tp);
  dae_tensor_free (tdy);
  dae_tensor_free (tdq);
}

int
main (int argc, char **argv)
{
  bool benchmark = argc > 1 && strcmp (argv[1], "bench") == 0;
  if (!benchmark) {
    test_reference_backward (1, 4, 2, 3);
    test_reference_backward (2, 5, 3, 5);
  }
  DaeBackend *bes[4];
  int nb = dae_test_open_backends (bes, 4);
  for (int b = 0; b < nb; b++) {
    DaeStream *s = NULL;
    DaeError err = { 0 };
    if (!CHECK_OK (dae_stream_new (bes[b], &s, &err), &err))
      continue;
    if (benchmark) {
      int N = argc > 5 ? atoi (argv[2]) : 8, C = argc > 5 ? atoi (argv[3]) : 256;
      int H = argc > 5 ? atoi (argv[4]) : 16, W = argc > 5 ? atoi (argv[5]) : 16;
      bench (bes[b], s, N, C, H, W, argc > 6 ? atoi (argv[6]) : 5);
    } else {
      test_backend (bes[b], s);
    }
    dae_stream_free (s);
    dae_backend_unref (bes[b]);
  }
  return dae_test_finish ("test_attention");
}
