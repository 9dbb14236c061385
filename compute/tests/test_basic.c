/* Tests of the basic op family: both backends against the double-precision reference, and
 * the reference backward against central finite differences.
 *
 *  - fill / copy / axpy on channel views (strided samples) and sample views: the viewed
 *    elements change as they should and nothing else does;
 *  - SiLU, 2x2 average pooling, nearest x2 upsampling and global average pooling: forward vs
 *    the reference, backward vs the reference backward (gradients pre-filled: they must be
 *    added to), reference backward vs finite differences;
 *  - the timestep embedding vs the exact double-precision embedding, with a tolerance derived
 *    from float32 argument rounding (see test_timestep), and the backends against each other. */
#include "test_util.h"
#include "ref/ref_basic.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Elementwise ops and pooling round a handful of times per element. */
#define ELEM_TOL 1e-5
/* Forward ops with long float sums (global pooling): doc/compute.md's 1e-4. */
#define SUM_TOL 1e-4
#define FD_TOL 1e-6
#define FD_STEP 1e-5

static double *
to_double (const float *x, size_t n)
{
  double *d = malloc ((n ? n : 1) * sizeof *d);
  for (size_t i = 0; i < n; i++)
    d[i] = x[i];
  return d;
}

static float *
random_floats (DaeTestRng * r, size_t n, float lo, float hi)
{
  float *x = malloc ((n ? n : 1) * sizeof *x);
  dae_test_fill_uniform (r, x, n, lo, hi);
  return x;
}

/* max |got - pre - ref| / max(max |ref|, 1e-6): a gradient added into pre-filled values. */
static double
added_error (const float *got, const float *pre, const double *ref, size_t n)
{
  double maxref = 1e-6, maxdiff = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs ((double) got[i] - pre[i] - ref[i]);
    maxref = fmax (maxref, fabs (ref[i]));
    maxdiff = isnan (d) ? INFINITY : fmax (maxdiff, d);
  }
  return maxdiff / maxref;
}

/* ---- fill / copy / axpy on views ---------------------------------------------------------- */

/* Checks t (read back) against the host model `want`; counts mismatches. */
static int
mismatches (DaeStream * s, const DaeTensor * t, const float *want)
{
  float *got = dae_test_read (s, t);
  int bad = 0;
  for (size_t i = 0; i < dae_tensor_numel (t); i++)
    bad += fabsf (got[i] - want[i]) > 1e-6f * fmaxf (1.0f, fabsf (want[i]));
  free (got);
  return bad;
}

/* W = 4 makes every view's samples and offsets multiples of 4 floats (the vec4 variants of
 * copy and axpy on lavapipe); W = 3 does not. */
static void
test_views (DaeBackend * be, DaeStream * s, int W)
{
  const int N = 3, C = 7, H = 5, HW = H * W, C0 = 2, CV = 3;
  const size_t numel = (size_t) N * C * HW;
  DaeTestRng r;
  dae_test_rng_seed (&r, 11);
  float *a = random_floats (&r, numel, -1, 1), *b = random_floats (&r, numel, -1, 1);
  float *small = random_floats (&r, (size_t) N * CV * HW, -1, 1);
  DaeTensor *ta = dae_test_tensor (be, s, N, C, H, W, a);
  DaeTensor *tb = dae_test_tensor (be, s, N, C, H, W, b);
  DaeTensor *ts = dae_test_tensor (be, s, N, CV, H, W, small);
  DaeTensor va = dae_tensor_view_channels (ta, C0, CV), vb = dae_tensor_view_channels (tb, 1, CV);

  /* channel views: samples strided by C*HW, CV*HW elements each */
  dae_fill (s, &va, 2.5f);
  for (int n = 0; n < N; n++)
    for (int i = 0; i < CV * HW; i++)
      a[(size_t) n * C * HW + C0 * HW + i] = 2.5f;
  CHECK (mismatches (s, ta, a) == 0, "fill of a channel view");
  dae_copy (s, &va, ts);
  for (int n = 0; n < N; n++)
    for (int i = 0; i < CV * HW; i++)
      a[(size_t) n * C * HW + C0 * HW + i] = small[(size_t) n * CV * HW + i];
  CHECK (mismatches (s, ta, a) == 0, "copy into a channel view");
  dae_axpy (s, &va, &vb, -1.5f);      /* both strided */
  for (int n = 0; n < N; n++)
    for (int i = 0; i < CV * HW; i++)
      a[(size_t) n * C * HW + C0 * HW + i] += -1.5f * b[(size_t) n * C * HW + HW + i];
  CHECK (mismatches (s, ta, a) == 0, "axpy between channel views");
  dae_copy (s, ts, &vb);              /* from a strided view into a contiguous tensor */
  for (int n = 0; n < N; n++)
    for (int i = 0; i < CV * HW; i++)
      small[(size_t) n * CV * HW + i] = b[(size_t) n * C * HW + HW + i];
  CHECK (mismatches (s, ts, small) == 0, "copy from a channel view");

  /* sample views: contiguous, offset */
  DaeTensor sa = dae_tensor_view_samples (ta, 1, 2), sb = dae_tensor_view_samples (tb, 0, 2);
  dae_axpy (s, &sa, &sb, 0.75f);
  for (size_t i = 0; i < (size_t) 2 * C * HW; i++)
    a[C * HW + i] += 0.75f * b[i];
  CHECK (mismatches (s, ta, a) == 0, "axpy between sample views");
  DaeTensor last = dae_tensor_view_samples (ta, 2, 1);
  dae_fill (s, &last, -4.0f);
  for (size_t i = 0; i < (size_t) C * HW; i++)
    a[2 * C * HW + i] = -4.0f;
  CHECK (mismatches (s, ta, a) == 0, "fill of a sample view");
  dae_copy (s, &sa, &sb);
  memcpy (a + C * HW, b, (size_t) 2 * C * HW * sizeof *a);
  CHECK (mismatches (s, ta, a) == 0, "copy between sample views");

  dae_tensor_free (ta);
  dae_tensor_free (tb);
  dae_tensor_free (ts);
  free (a);
  free (b);
  free (small);
}

/* ---- SiLU, pooling, resampling ------------------------------------------------------------- */

/* The ops with one input and one output, as the test sees them: the forward and backward on a
 * backend, and the reference's, for an input of shape (n, c, h, w). */
typedef struct {
  const char *name;
  double tol;
  /* output shape from the input shape */
  int oh_num, oh_den;           /* out h = h * num / den (w likewise); 0: out is (n, c, 1, 1) */
  void (*fwd) (DaeStream *, const DaeTensor * y, const DaeTensor * x);
  void (*bwd) (DaeStream *, const DaeTensor * dx, const DaeTensor * dy);
  void (*ref_fwd) (double *y, const double *x, int n, int c, int h, int w);
  void (*ref_bwd) (double *dx, const double *dy, int n, int c, int h, int w);
} UnaryOp;

/* SiLU's backward also needs x: adapters to the UnaryOp shape (x kept in a static). */
static const DaeTensor *silu_x;
static const double *silu_xd;

static void
silu_bwd (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  dae_silu_backward (s, dx, dy, silu_x);
}

static void
ref_silu_fwd (double *y, const double *x, int n, int c, int h, int w)
{
  ref_silu_forward (y, x, (size_t) n * c * h * w);
}

static void
ref_silu_bwd (double *dx, const double *dy, int n, int c, int h, int w)
{
  ref_silu_backward (dx, dy, silu_xd, (size_t) n * c * h * w);
}

static const UnaryOp unary_ops[] = {
  {"silu", ELEM_TOL, 1, 1, dae_silu_forward, silu_bwd, ref_silu_fwd, ref_silu_bwd},
  {"avgpool2", ELEM_TOL, 1, 2, dae_avgpool2_forward, dae_avgpool2_backward,
      ref_avgpool2_forward, ref_avgpool2_backward},
  {"upsample2", ELEM_TOL, 2, 1, dae_upsample2_forward, dae_upsample2_backward,
      ref_upsample2_forward, ref_upsample2_backward},
  {"global_avgpool", SUM_TOL, 0, 1, dae_global_avgpool_forward, dae_global_avgpool_backward,
      ref_global_avgpool_forward, ref_global_avgpool_backward},
};

typedef struct {
  int n, c, h, w;
} Shape;

static Shape
out_shape (const UnaryOp * op, Shape in)
{
  if (op->oh_num == 0)
    return (Shape) {
    in.n, in.c, 1, 1};
  return (Shape) {
  in.n, in.c, in.h * op->oh_num / op->oh_den, in.w * op->oh_num / op->oh_den};
}

static size_t
numel_of (Shape s)
{
  return (size_t) s.n * s.c * s.h * s.w;
}

/* The reference backward of op vs central differences of sum(fwd(x) * dy). */
static void
fd_check (const UnaryOp * op, Shape in, uint64_t seed)
{
  Shape out = out_shape (op, in);
  size_t nin = numel_of (in), nout = numel_of (out);
  DaeTestRng r;
  dae_test_rng_seed (&r, seed);
  float *xf = random_floats (&r, nin, -4, 4), *dyf = random_floats (&r, nout, -1, 1);
  double *x = to_double (xf, nin), *dy = to_double (dyf, nout);
  double *dx = calloc (nin, 8), *y = malloc (nout * 8);
  silu_xd = x;
  op->ref_bwd (dx, dy, in.n, in.c, in.h, in.w);
  double maxref = 1e-6, maxdiff = 0;
  for (size_t i = 0; i < nin; i++) {
    double save = x[i], l[2];
    for (int k = 0; k < 2; k++) {
      x[i] = save + (k ? -FD_STEP : FD_STEP);
      op->ref_fwd (y, x, in.n, in.c, in.h, in.w);
      l[k] = 0;
      for (size_t j = 0; j < nout; j++)
        l[k] += y[j] * dy[j];
    }
    x[i] = save;
    maxdiff = fmax (maxdiff, fabs ((l[0] - l[1]) / (2 * FD_STEP) - dx[i]));
    maxref = fmax (maxref, fabs (dx[i]));
  }
  CHECK (maxdiff / maxref < FD_TOL, "%s: reference backward vs finite differences: %.3g",
      op->name, maxdiff / maxref);
  fprintf (stderr, "  fd %-16s %.1e\n", op->name, maxdiff / maxref);
  free (xf);
  free (dyf);
  free (x);
  free (dy);
  free (dx);
  free (y);
}

static void
test_unary_fd (void)
{
  const Shape small = { 2, 3, 4, 6 };
  for (size_t k = 0; k < G_N_ELEMENTS (unary_ops); k++)
    fd_check (&unary_ops[k], small, 30 + k);
}

static void
unary_check (DaeBackend * be, DaeStream * s, const UnaryOp * op, Shape in, uint64_t seed,
    double *worst_fwd, double *worst_bwd)
{
  Shape out = out_shape (op, in);
  size_t nin = numel_of (in), nout = numel_of (out);
  DaeTestRng r;
  dae_test_rng_seed (&r, seed);
  float *x = random_floats (&r, nin, -6, 6), *dy = random_floats (&r, nout, -1, 1);
  float *pre = random_floats (&r, nin, -1, 1);
  DaeTensor *tx = dae_test_tensor (be, s, in.n, in.c, in.h, in.w, x);
  DaeTensor *ty = dae_test_tensor (be, s, out.n, out.c, out.h, out.w, NULL);
  DaeTensor *tdy = dae_test_tensor (be, s, out.n, out.c, out.h, out.w, dy);
  DaeTensor *tdx = dae_test_tensor (be, s, in.n, in.c, in.h, in.w, pre);
  silu_x = tx;
  op->fwd (s, ty, tx);
  op->bwd (s, tdx, tdy);
  float *y = dae_test_read (s, ty), *dx = dae_test_read (s, tdx);

  double *xd = to_double (x, nin), *dyd = to_double (dy, nout);
  double *yr = malloc (nout * 8), *dxr = calloc (nin, 8);
  silu_xd = xd;
  op->ref_fwd (yr, xd, in.n, in.c, in.h, in.w);
  op->ref_bwd (dxr, dyd, in.n, in.c, in.h, in.w);
  double ef = dae_test_max_rel_error (y, yr, nout, 1e-6), eb = added_error (dx, pre, dxr, nin);
  CHECK (ef < op->tol, "%s %dx%dx%dx%d: forward error %.3g", op->name, in.n, in.c, in.h, in.w,
      ef);
  CHECK (eb < op->tol, "%s %dx%dx%dx%d: backward error %.3g", op->name, in.n, in.c, in.h,
      in.w, eb);
  *worst_fwd = fmax (*worst_fwd, ef);
  *worst_bwd = fmax (*worst_bwd, eb);
  dae_tensor_free (tx);
  dae_tensor_free (ty);
  dae_tensor_free (tdy);
  dae_tensor_free (tdx);
  void *ptrs[] = { x, dy, pre, y, dx, xd, dyd, yr, dxr };
  for (size_t i = 0; i < G_N_ELEMENTS (ptrs); i++)
    free (ptrs[i]);
}

static void
test_unary (DaeBackend * be, DaeStream * s)
{
  /* even sizes for the pooling; odd numbers of planes and widths that are not multiples of
   * any workgroup */
  const Shape shapes[] = { {1, 3, 6, 10}, {3, 5, 14, 18}, {2, 1, 2, 2}, {1, 13, 34, 6},
  {3, 7, 22, 30}
  };
  for (size_t k = 0; k < G_N_ELEMENTS (unary_ops); k++) {
    double wf = 0, wb = 0;
    for (size_t i = 0; i < G_N_ELEMENTS (shapes); i++)
      unary_check (be, s, &unary_ops[k], shapes[i], 50 + i, &wf, &wb);
    /* an odd width: not the upsample's pairs of pixels (its vec4 pass on lavapipe) */
    if (unary_ops[k].oh_num == 2)
      unary_check (be, s, &unary_ops[k], (Shape) { 2, 3, 5, 7 }, 60, &wf, &wb);
    fprintf (stderr, "  %-16s worst forward %.2e backward %.2e\n", unary_ops[k].name, wf, wb);
  }
}

/* ---- timestep embedding -------------------------------------------------------------------- */

/* The embeddings of the first backend, to compare the next ones with. */
static float *first_embedding[8];

static void
test_timestep (DaeBackend * be, DaeStream * s)
{
  const float ts[] = { 0, 1, 2, 17, 123, 250, 500, 998, 999 };
  const int N = G_N_ELEMENTS (ts), dims[] = { 64, 128, 10, 6, 2 };
  double *td = to_double (ts, N);
  for (size_t k = 0; k < G_N_ELEMENTS (dims); k++) {
    int D = dims[k], half = D / 2;
    DaeTensor *t = dae_test_tensor (be, s, N, 1, 1, 1, ts);
    DaeTensor *y = dae_test_tensor (be, s, N, D, 1, 1, NULL);
    dae_timestep_embedding (s, y, t);
    float *got = dae_test_read (s, y);
    double *ref = malloc ((size_t) N * D * 8);
    ref_timestep_embedding (ref, td, N, D);
    /* Exact reference, tolerance from float32 rounding: the argument t f_i is computed as
     * PyTorch does, x_i = fl(fl(c i) / half) with c = fl(-ln 10000) (relative error 3 u |x_i|,
     * u = 2^-24), f_i = exp(x_i) within 1 ulp (2u), t f_i rounded (u); so the argument is off
     * by up to t f_i u (3 |x_i| + 3). Allow twice that plus 2^-22 for evaluating cos/sin. */
    double worst = 0, worst_cross = 0;
    int bad = 0, bad_cross = 0;
    for (int n = 0; n < N; n++)
      for (int j = 0; j < D; j++) {
        int i = j % half;
        double x = -log (10000.0) * i / half, f = exp (x);
        double arg_err = ts[n] * f * ldexp (1.0, -24) * (3 * fabs (x) + 3);
        double tol = 2 * arg_err + ldexp (1.0, -22);
        double e = fabs (got[n * D + j] - ref[n * D + j]);
        bad += !(e <= tol);
        worst = fmax (worst, e);
        /* backends against each other: the same float32 argument (the frequencies are the
         * host's on every backend), so only the evaluation of cos/sin differs */
        if (first_embedding[k]) {
          double ec = fabs (got[n * D + j] - first_embedding[k][n * D + j]);
          double tol_cross = ldexp (1.0, -21);
          bad_cross += !(ec <= tol_cross);
          worst_cross = fmax (worst_cross, ec);
        }
      }
    CHECK (bad == 0, "timestep embedding D=%d: %d values outside the float32-rounding "
        "tolerance of the exact embedding (worst %.3g)", D, bad, worst);
    CHECK (bad_cross == 0, "timestep embedding D=%d: %d values differ between backends "
        "(worst %.3g)", D, bad_cross, worst_cross);
    fprintf (stderr, "  timestep D=%-4d max |y - exact| %.2e%s", D, worst,
        first_embedding[k] ? "" : "\n");
    if (first_embedding[k])
      fprintf (stderr, ", max |y - first backend| %.2e\n", worst_cross);
    if (!first_embedding[k])
      first_embedding[k] = got;
    else
      free (got);
    free (ref);
    dae_tensor_free (t);
    dae_tensor_free (y);
  }
  free (td);
}

int
main (void)
{
  test_unary_fd ();
  DaeBackend *backends[4];
  int nb = dae_test_open_backends (backends, 4);
  for (int b = 0; b < nb; b++) {
    DaeStream *s = NULL;
    DaeError err = { 0 };
    if (!CHECK_OK (dae_stream_new (backends[b], &s, &err), &err))
      continue;
    fprintf (stderr, "%s\n", dae_backend_description (backends[b]));
    gint64 t0 = g_get_monotonic_time ();
    test_views (backends[b], s, 3);
    test_views (backends[b], s, 4);
    test_unary (backends[b], s);
    test_timestep (backends[b], s);
    CHECK_OK (dae_stream_sync (s, &err), &err);
    fprintf (stderr, "  %.2f s\n", (g_get_monotonic_time () - t0) / 1e6);
    dae_stream_free (s);
    dae_backend_unref (backends[b]);
  }
  for (size_t k = 0; k < G_N_ELEMENTS (first_embedding); k++)
    free (first_embedding[k]);
  return dae_test_finish ("test_basic");
}
