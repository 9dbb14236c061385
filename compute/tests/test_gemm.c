/* Tests of the gemm op family (linear layers and 2-D convolutions):
 *  - forward of every backend against the double-precision reference on odd shapes, with and
 *    without bias, with and without the accumulate flag;
 *  - the reference backward against central finite differences (double) on tiny shapes;
 *  - every backend's backward (dx, dw, db and NULL combinations, added onto non-zero
 *    gradients) against the reference backward;
 *  - every backend against the first one (the CPU backend by default);
 *  - on Vulkan, dae_vk_gemm itself (transposes, batches, offsets, alpha, beta) and both
 *    tiling profiles (the device's own and the other one, forced by $DIFFAE_VK_PROFILE); the
 *    lavapipe profile both with texel views and with storage-buffer loads only
 *    ($DIFFAE_VK_TEXEL=0); 3x3 convolutions also by Winograd, forced on each with both
 *    layouts of its products, the choice of Winograd, and its cache of transformed weights
 *    across writes of the weights. */
#include "test_util.h"
#include "ref/ref_gemm.h"
#include "vulkan/vk_gemm.h"
#include "vulkan/vk_winograd.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Forward: max error relative to the output's largest magnitude. Backward: the same measure
 * on each gradient; sums of up to a few thousand float products stay well inside 1e-4. */
#define FWD_TOL 1e-4
#define BWD_TOL 1e-4
#define FD_TOL 1e-6

/* A backend under test; Vulkan appears three times: per tiling profile, and the lavapipe
 * profile once more without texel views. */
typedef struct {
  DaeBackend *be;
  DaeStream *s;
  const char *name;
  const char *profile;          /* value of $DIFFAE_VK_PROFILE while it runs, or NULL */
  const char *texel;            /* value of $DIFFAE_VK_TEXEL while it runs, or NULL */
} Target;

static Target targets[8];
static int ntargets;

static void
set_or_unset (const char *var, const char *value)
{
  if (value)
    g_setenv (var, value, TRUE);
  else
    g_unsetenv (var);
}

static void
target_enter (const Target * t)
{
  set_or_unset ("DIFFAE_VK_PROFILE", t->profile);
  set_or_unset ("DIFFAE_VK_TEXEL", t->texel);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static float *
random_floats (DaeTestRng * r, size_t n)
{
  float *x = malloc ((n ? n : 1) * sizeof *x);
  dae_test_fill_uniform (r, x, n, -1.0f, 1.0f);
  return x;
}

static double *
to_double (const float *x, size_t n)
{
  if (!x)
    return NULL;
  double *d = malloc ((n ? n : 1) * sizeof *d);
  for (size_t i = 0; i < n; i++)
    d[i] = x[i];
  return d;
}

static DaeTensor *
upload (const Target * t, const float *data, int n, int c, int h, int w)
{
  return data ? dae_test_tensor (t->be, t->s, n, c, h, w, data) : NULL;
}

/* Compares a backend's result with the reference and with the first backend's result. */
static void
compare (const char *what, const Target * t, const float *got, const double *ref,
    const float *first, size_t n, double tol)
{
  double e = dae_test_max_rel_error (got, ref, n, 1e-6);
  CHECK (e < tol, "%s on %s: error %.3g vs reference", what, t->name, e);
  if (g_getenv ("DIFFAE_TEST_VERBOSE"))
    fprintf (stderr, "  %-48s %-14s %.2e\n", what, t->name, e);
  if (first) {
    double e2 = dae_test_max_rel_error_f (got, first, n, 1e-6);
    CHECK (e2 < tol, "%s on %s: differs from %s by %.3g", what, t->name, targets[0].name, e2);
  }
}

/* The three gradients (dx, dw, db) of a backward on one target against the reference, and
 * against the first target's (kept in first); frees the gradient tensors. */
/* Compares a forward output y with the reference, keeps the first backend's result in *first
 * (for the cross-backend check) and frees y and the layer's input tensors. */
static void
check_forward (const char *what, const Target * t, const double *ref, size_t ny, float **first,
    DaeTensor * y, DaeTensor * x, DaeTensor * w, DaeTensor * b)
{
  float *got = dae_test_read (t->s, y);
  compare (what, t, got, ref, *first, ny, FWD_TOL);
  if (!*first)
    *first = got;
  else
    free (got);
  dae_tensor_free (x);
  dae_tensor_free (w);
  dae_tensor_free (b);
  dae_tensor_free (y);
}

static void
compare_gradients (const char *what, size_t set, const Target * t, DaeTensor * outs[3],
    const double *refs[3], const size_t sizes[3], float *first[3])
{
  static const char *names[3] = { "dx", "dw", "db" };
  for (int j = 0; j < 3; j++) {
    char full[192];
    g_snprintf (full, sizeof full, "%s %s (set %zu)", what, names[j], set);
    float *got = dae_test_read (t->s, outs[j]);
    compare (full, t, got, refs[j], first[j], sizes[j], BWD_TOL);
    if (!first[j])
      first[j] = got;
    else
      free (got);
    dae_tensor_free (outs[j]);
  }
}

/* ---- linear ------------------------------------------------------------------------------ */

typedef struct {
  int n, c, h, w, out;
  bool bias, accumulate;
} LinearCase;

static void
test_linear_forward (const LinearCase * lc, DaeTestRng * r)
{
  int in = lc->c * lc->h * lc->w;
  size_t nx = (size_t) lc->n * in, nw = (size_t) lc->out * in, ny = (size_t) lc->n * lc->out;
  float *x = random_floats (r, nx), *w = random_floats (r, nw), *y0 = random_floats (r, ny);
  float *b = lc->bias ? random_floats (r, lc->out) : NULL;
  double *ref = to_double (y0, ny), *xd = to_double (x, nx), *wd = to_double (w, nw);
  double *bd = to_double (b, lc->out);
  ref_linear_forward (ref, xd, wd, bd, lc->n, in, lc->out, lc->accumulate);
  char what[128];
  g_snprintf (what, sizeof what, "linear fwd n%d in%d out%d%s%s", lc->n, in, lc->out,
      lc->bias ? " bias" : "", lc->accumulate ? " acc" : "");
  float *first = NULL;
  for (int i = 0; i < ntargets; i++) {
    Target *t = &targets[i];
    target_enter (t);
    DaeTensor *tx = upload (t, x, lc->n, lc->c, lc->h, lc->w);
    DaeTensor *tw = upload (t, w, lc->out, in, 1, 1), *tb = upload (t, b, 1, lc->out, 1, 1);
    DaeTensor *ty = upload (t, y0, lc->n, lc->out, 1, 1);
    dae_linear_forward (t->s, ty, tx, tw, tb, lc->accumulate);
    check_forward (what, t, ref, ny, &first, ty, tx, tw, tb);
  }
  free (first);
  free (x);
  free (w);
  free (y0);
  free (b);
  free (ref);
  free (xd);
  free (wd);
  free (bd);
}

/* Which gradients a backward call asks for. */
typedef struct {
  bool dx, dw, db;
} Wanted;

static const Wanted wanted_sets[] = {
  {true, true, true}, {true, false, false}, {false, true, false}, {false, false, true},
  {true, false, true},
};

static void
test_linear_backward (int n, int in, int out, DaeTestRng * r)
{
  size_t nx = (size_t) n * in, nw = (size_t) out * in, ny = (size_t) n * out;
  float *x = random_floats (r, nx), *w = random_floats (r, nw), *dy = random_floats (r, ny);
  float *dx0 = random_floats (r, nx), *dw0 = random_floats (r, nw), *db0 = random_floats (r, out);
  for (size_t k = 0; k < G_N_ELEMENTS (wanted_sets); k++) {
    const Wanted *g = &wanted_sets[k];
    double *rdx = to_double (dx0, nx), *rdw = to_double (dw0, nw), *rdb = to_double (db0, out);
    double *xd = to_double (x, nx), *wd = to_double (w, nw), *dyd = to_double (dy, ny);
    ref_linear_backward (g->dx ? rdx : NULL, g->dw ? rdw : NULL, g->db ? rdb : NULL, dyd, xd,
        wd, n, in, out);
    float *first[3] = { NULL, NULL, NULL };
    for (int i = 0; i < ntargets; i++) {
      Target *t = &targets[i];
      target_enter (t);
      DaeTensor *tx = upload (t, x, n, in, 1, 1), *tw = upload (t, w, out, in, 1, 1);
      DaeTensor *tdy = upload (t, dy, n, out, 1, 1);
      DaeTensor *tdx = upload (t, dx0, n, in, 1, 1), *tdw = upload (t, dw0, out, in, 1, 1);
      DaeTensor *tdb = upload (t, db0, 1, out, 1, 1);
      dae_linear_backward (t->s, g->dx ? tdx : NULL, g->dw ? tdw : NULL, g->db ? tdb : NULL,
          tdy, tx, tw);
      char what[128];
      g_snprintf (what, sizeof what, "linear bwd n%d in%d out%d", n, in, out);
      DaeTensor *outs[3] = { tdx, tdw, tdb };
      const double *refs[3] = { rdx, rdw, rdb };
      size_t sizes[3] = { nx, nw, (size_t) out };
      compare_gradients (what, k, t, outs, refs, sizes, first);
      dae_tensor_free (tx);
      dae_tensor_free (tw);
      dae_tensor_free (tdy);
    }
    for (int j = 0; j < 3; j++)
      free (first[j]);
    free (rdx);
    free (rdw);
    free (rdb);
    free (xd);
    free (wd);
    free (dyd);
  }
  free (x);
  free (w);
  free (dy);
  free (dx0);
  free (dw0);
  free (db0);
}

/* ---- convolution ------------------------------------------------------------------------- */

typedef struct {
  int n, cin, cout, h, w, k;
  bool bias, accumulate;
} ConvCase;

static void
conv_sizes (const RefConvShape * sh, size_t *nx, size_t *nw, size_t *ny)
{
  *nx = (size_t) sh->n * sh->cin * sh->h * sh->w;
  *nw = (size_t) sh->cout * sh->cin * sh->k * sh->k;
  *ny = (size_t) sh->n * sh->cout * sh->h * sh->w;
}

static void
test_conv_forward (const ConvCase * cc, DaeTestRng * r)
{
  RefConvShape sh = { cc->n, cc->cin, cc->cout, cc->h, cc->w, cc->k };
  size_t nx, nw, ny;
  conv_sizes (&sh, &nx, &nw, &ny);
  float *x = random_floats (r, nx), *w = random_floats (r, nw), *y0 = random_floats (r, ny);
  float *b = cc->bias ? random_floats (r, cc->cout) : NULL;
  double *ref = to_double (y0, ny), *xd = to_double (x, nx), *wd = to_double (w, nw);
  double *bd = to_double (b, cc->cout);
  ref_conv2d_forward (ref, xd, wd, bd, &sh, cc->accumulate);
  char what[128];
  g_snprintf (what, sizeof what, "conv%d fwd %dx%dx%dx%d -> %d%s%s", cc->k, cc->n, cc->cin,
      cc->h, cc->w, cc->cout, cc->bias ? " bias" : "", cc->accumulate ? " acc" : "");
  DaeConvArgs args = { .ksize = cc->k, .accumulate = cc->accumulate };
  float *first = NULL;
  for (int i = 0; i < ntargets; i++) {
    Target *t = &targets[i];
    /* Vulkan runs the 3x3 convolutions it could take by Winograd five ways: as its own
     * choice (the direct convolution at these sizes) and forced, with 2x2 and 4x4 tiles,
     * each with the products channel- and tile-major. */
    static const char *const wino_env[] = { NULL, "2", "4", "2", "4" };
    static const char *const layout_env[] = { NULL, "channels", "channels", "tiles", "tiles" };
    bool wino = dae_backend_kind (t->be) == DAE_BACKEND_VULKAN && cc->k == 3 && cc->cin % 4 == 0;
    for (int forced = 0; forced < (wino ? 5 : 1); forced++) {
      target_enter (t);
      set_or_unset ("DIFFAE_VK_WINOGRAD", wino_env[forced]);
      set_or_unset ("DIFFAE_VK_WINOGRAD_LAYOUT", layout_env[forced]);
      DaeTensor *tx = upload (t, x, cc->n, cc->cin, cc->h, cc->w);
      DaeTensor *tw = upload (t, w, cc->cout, cc->cin, cc->k, cc->k);
      DaeTensor *tb = upload (t, b, 1, cc->cout, 1, 1);
      DaeTensor *ty = upload (t, y0, cc->n, cc->cout, cc->h, cc->w);
      dae_conv2d_forward (t->s, ty, tx, tw, tb, &args);
      char named[160];
      g_snprintf (named, sizeof named, forced ? "%s (winograd %s, %s layout)" : "%s", what,
          wino_env[forced], layout_env[forced]);
      check_forward (named, t, ref, ny, &first, ty, tx, tw, tb);
    }
  }
  g_unsetenv ("DIFFAE_VK_WINOGRAD");
  g_unsetenv ("DIFFAE_VK_WINOGRAD_LAYOUT");
  free (first);
  free (x);
  free (w);
  free (y0);
  free (b);
  free (ref);
  free (xd);
  free (wd);
  free (bd);
}

static void
test_conv_backward (const RefConvShape * sh, DaeTestRng * r)
{
  size_t nx, nw, ny;
  conv_sizes (sh, &nx, &nw, &ny);
  float *x = random_floats (r, nx), *w = random_floats (r, nw), *dy = random_floats (r, ny);
  float *dx0 = random_floats (r, nx), *dw0 = random_floats (r, nw);
  float *db0 = random_floats (r, sh->cout);
  DaeConvArgs args = { .ksize = sh->k };
  double *xd = to_double (x, nx), *wd = to_double (w, nw), *dyd = to_double (dy, ny);
  for (size_t k = 0; k < G_N_ELEMENTS (wanted_sets); k++) {
    const Wanted *g = &wanted_sets[k];
    double *rdx = to_double (dx0, nx), *rdw = to_double (dw0, nw);
    double *rdb = to_double (db0, sh->cout);
    ref_conv2d_backward (g->dx ? rdx : NULL, g->dw ? rdw : NULL, g->db ? rdb : NULL, dyd, xd,
        wd, sh);
    float *first[3] = { NULL, NULL, NULL };
    for (int i = 0; i < ntargets; i++) {
      Target *t = &targets[i];
      target_enter (t);
      DaeTensor *tx = upload (t, x, sh->n, sh->cin, sh->h, sh->w);
      DaeTensor *tw = upload (t, w, sh->cout, sh->cin, sh->k, sh->k);
      DaeTensor *tdy = upload (t, dy, sh->n, sh->cout, sh->h, sh->w);
      DaeTensor *tdx = upload (t, dx0, sh->n, sh->cin, sh->h, sh->w);
      DaeTensor *tdw = upload (t, dw0, sh->cout, sh->cin, sh->k, sh->k);
      DaeTensor *tdb = upload (t, db0, 1, sh->cout, 1, 1);
      dae_conv2d_backward (t->s, g->dx ? tdx : NULL, g->dw ? tdw : NULL, g->db ? tdb : NULL,
          tdy, tx, tw, &args);
      char what[128];
      g_snprintf (what, sizeof what, "conv%d bwd %dx%dx%dx%d -> %d", sh->k, sh->n, sh->cin,
          sh->h, sh->w, sh->cout);
      DaeTensor *outs[3] = { tdx, tdw, tdb };
      const double *refs[3] = { rdx, rdw, rdb };
      size_t sizes[3] = { nx, nw, (size_t) sh->cout };
      compare_gradients (what, k, t, outs, refs, sizes, first);
      dae_tensor_free (tx);
      dae_tensor_free (tw);
      dae_tensor_free (tdy);
    }
    for (int j = 0; j < 3; j++)
      free (first[j]);
    free (rdx);
    free (rdw);
    free (rdb);
  }
  free (xd);
  free (wd);
  free (dyd);
  free (x);
  free (w);
  free (dy);
  free (dx0);
  free (dw0);
  free (db0);
}

/* ---- the reference backward against finite differences ---------------------------------- */

/* loss = sum(r * y) for the conv (k > 0) or linear (k == 0) layer of shape sh. */
static double
loss (const RefConvShape * sh, const double *x, const double *w, const double *b,
    const double *r, size_t ny)
{
  double *y = calloc (ny, sizeof *y);
  if (sh->k)
    ref_conv2d_forward (y, x, w, b, sh, false);
  else
    ref_linear_forward (y, x, w, b, sh->n, sh->cin, sh->cout, false);
  double l = 0;
  for (size_t i = 0; i < ny; i++)
    l += r[i] * y[i];
  free (y);
  return l;
}

/* Central differences of loss with respect to every element of p (n elements). */
static double
fd_error (const RefConvShape * sh, double *x, double *w, double *b, const double *r,
    size_t ny, double *p, size_t n, const double *grad)
{
  const double h = 1e-3;
  double worst = 0, scale = 1e-9;
  for (size_t i = 0; i < n; i++) {
    double keep = p[i];
    p[i] = keep + h;
    double lp = loss (sh, x, w, b, r, ny);
    p[i] = keep - h;
    double lm = loss (sh, x, w, b, r, ny);
    p[i] = keep;
    worst = fmax (worst, fabs ((lp - lm) / (2 * h) - grad[i]));
    scale = fmax (scale, fabs (grad[i]));
  }
  return worst / scale;
}

static void
test_reference_gradients (const RefConvShape * sh, DaeTestRng * rng)
{
  bool conv = sh->k > 0;
  int k = conv ? sh->k : 1, hw = conv ? sh->h * sh->w : 1;
  size_t nx = (size_t) sh->n * sh->cin * hw, nw = (size_t) sh->cout * sh->cin * k * k;
  size_t ny = (size_t) sh->n * sh->cout * hw;
  float *f = random_floats (rng, nx + nw + sh->cout + ny);
  double *all = to_double (f, nx + nw + sh->cout + ny);
  double *x = all, *w = x + nx, *b = w + nw, *r = b + sh->cout;
  double *dx = calloc (nx, sizeof *dx), *dw = calloc (nw, sizeof *dw);
  double *db = calloc (sh->cout, sizeof *db);
  if (conv)
    ref_conv2d_backward (dx, dw, db, r, x, w, sh);
  else
    ref_linear_backward (dx, dw, db, r, x, w, sh->n, sh->cin, sh->cout);
  double ex = fd_error (sh, x, w, b, r, ny, x, nx, dx);
  double ew = fd_error (sh, x, w, b, r, ny, w, nw, dw);
  double eb = fd_error (sh, x, w, b, r, ny, b, sh->cout, db);
  CHECK (ex < FD_TOL && ew < FD_TOL && eb < FD_TOL,
      "reference %s k%d backward vs finite differences: dx %.3g dw %.3g db %.3g",
      conv ? "conv" : "linear", sh->k, ex, ew, eb);
  if (g_getenv ("DIFFAE_TEST_VERBOSE"))
    fprintf (stderr, "  reference %s k%d vs finite differences: dx %.1e dw %.1e db %.1e\n",
        conv ? "conv" : "linear", sh->k, ex, ew, eb);
  free (f);
  free (all);
  free (dx);
  free (dw);
  free (db);
}

/* ---- dae_vk_gemm ------------------------------------------------------------------------- */

typedef struct {
  int M, N, K, batch;
  bool ta, tb;
  int pad;                      /* extra elements per row (ld > row length) */
  size_t offset;                /* elements before the first matrix */
  float alpha, beta;
} GemmCase;

/* Element (i, j) of op(X) where X is stored with leading dimension ld. */
static float
mat_at (const float *x, int ld, bool trans, int i, int j)
{
  return trans ? x[(size_t) j * ld + i] : x[(size_t) i * ld + j];
}

static void
test_vk_gemm (const Target * t, const GemmCase * g, DaeTestRng * r)
{
  int a_rows = g->ta ? g->K : g->M, a_cols = g->ta ? g->M : g->K;
  int b_rows = g->tb ? g->N : g->K, b_cols = g->tb ? g->K : g->N;
  int lda = a_cols + g->pad, ldb = b_cols + g->pad, ldc = g->N + g->pad;
  size_t gap = g->pad ? 3 : 4;       /* pad 0: everything 16-byte aligned (vec4 loads) */
  size_t sa = (size_t) a_rows * lda + gap, sb = (size_t) b_rows * ldb + gap;
  size_t sc = (size_t) g->M * ldc + 4;   /* 16-byte aligned batches where ldc is */
  size_t na = g->offset + sa * g->batch, nb = g->offset + sb * g->batch;
  size_t nc = g->offset + sc * g->batch;
  float *a = random_floats (r, na), *b = random_floats (r, nb), *c = random_floats (r, nc);
  if (g->beta == 0.0f)
    for (size_t i = 0; i < nc; i++)
      c[i] = NAN;               /* beta 0 must never read C */
  double *ref = malloc (nc * sizeof *ref);
  for (size_t i = 0; i < nc; i++)
    ref[i] = isnan (c[i]) ? 0.0 : c[i];
  for (int q = 0; q < g->batch; q++)
    for (int i = 0; i < g->M; i++)
      for (int j = 0; j < g->N; j++) {
        double acc = 0;
        for (int k = 0; k < g->K; k++)
          acc += (double) mat_at (a + g->offset + q * sa, lda, g->ta, i, k) *
              mat_at (b + g->offset + q * sb, ldb, g->tb, k, j);
        size_t ci = g->offset + q * sc + (size_t) i * ldc + j;
        ref[ci] = g->alpha * acc + (g->beta != 0.0f ? g->beta * c[ci] : 0.0);
      }
  DaeTensor *ta = upload (t, a, 1, 1, 1, (int) na), *tb = upload (t, b, 1, 1, 1, (int) nb);
  DaeTensor *tc = upload (t, c, 1, 1, 1, (int) nc);
  DaeVkMat ma = { ta, g->offset, sa, lda, g->ta }, mb = { tb, g->offset, sb, ldb, g->tb };
  DaeVkMat mc = { tc, g->offset, sc, ldc, false };
  dae_vk_gemm (t->s, g->M, g->N, g->K, g->batch, ma, mb, mc, g->alpha, g->beta);
  float *got = dae_test_read (t->s, tc);
  char what[128];
  g_snprintf (what, sizeof what, "vk_gemm %dx%dx%d b%d %c%c pad%d alpha %g beta %g", g->M,
      g->N, g->K, g->batch, g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->pad, g->alpha, g->beta);
  double worst = 0, scale = 1e-6;
  for (size_t i = 0; i < nc; i++) {
    /* Elements outside the matrices (row padding, offsets, gaps) must be untouched. */
    bool outside = true;
    for (int q = 0; q < g->batch && outside; q++) {
      size_t rel = i - g->offset - q * sc;
      outside = !(i >= g->offset + q * sc && rel / ldc < (size_t) g->M &&
          rel % ldc < (size_t) g->N);
    }
    if (outside) {
      bool same = (isnan (c[i]) && isnan (got[i])) || c[i] == got[i];
      CHECK (same, "%s on %s: element %zu outside C was changed", what, t->name, i);
      if (!same)
        break;
      continue;
    }
    scale = fmax (scale, fabs (ref[i]));
    double d = fabs (got[i] - ref[i]);
    worst = isnan (d) ? INFINITY : fmax (worst, d);
  }
  CHECK (worst / scale < FWD_TOL, "%s on %s: error %.3g", what, t->name, worst / scale);
  if (g_getenv ("DIFFAE_TEST_VERBOSE"))
    fprintf (stderr, "  %-48s %-14s %.2e\n", what, t->name, worst / scale);
  free (got);
  dae_tensor_free (ta);
  dae_tensor_free (tb);
  dae_tensor_free (tc);
  free (a);
  free (b);
  free (c);
  free (ref);
}

/* ---- main -------------------------------------------------------------------------------- */

/* The lavapipe profile takes the texel-view variants where A can be read as vec4 (so the
 * convolution cases above with K % 4 == 0 ran them), and not with $DIFFAE_VK_TEXEL=0. */
static void
test_texel_choice (const Target * t)
{
  if (dae_backend_kind (t->be) != DAE_BACKEND_VULKAN || !dae_vk_dev (t->be)->texel_views)
    return;
  target_enter (t);
  DaeVkTiles with_vec4 = dae_vk_gemm_tiles (t->s, 64, 256, true, true);
  if (!dae_vk_gemm_is_cpu_profile (&with_vec4))
    return;
  DaeVkTiles no_vec4 = dae_vk_gemm_tiles (t->s, 64, 256, false, true);
  DaeVkTiles no_variant = dae_vk_gemm_tiles (t->s, 64, 256, true, false);
  bool want = !t->texel;
  CHECK (with_vec4.texel == want, "%s: texel variant %s", t->name, want ? "not taken" : "taken");
  if (g_getenv ("DIFFAE_TEST_VERBOSE"))
    fprintf (stderr, "  texel variant on %s: %s\n", t->name, with_vec4.texel ? "yes" : "no");
  CHECK (!no_vec4.texel && !no_variant.texel, "%s: texel variant taken without vec4 loads "
      "of A or without a texel shader", t->name);
  /* B as vec4 texels: only transposed (contiguous along k) and 16-byte aligned throughout. */
  DaeTensor b = { 0 };
  DaeVkMat bt = { &b, 4, 64 * 48, 64, true }, bn = bt, bodd = bt;
  bn.trans = false;
  bodd.offset = 5;
  CHECK (dae_vk_gemm_b_vec4 (&with_vec4, 64, &bt) == with_vec4.texel,
      "%s: B^T as vec4 texels %s", t->name, with_vec4.texel ? "not taken" : "taken");
  CHECK (!dae_vk_gemm_b_vec4 (&with_vec4, 64, &bn) && !dae_vk_gemm_b_vec4 (&with_vec4, 62, &bt)
      && !dae_vk_gemm_b_vec4 (&with_vec4, 64, &bodd) && !dae_vk_gemm_b_vec4 (&no_vec4, 64, &bt),
      "%s: B read as vec4 texels where it is not contiguous along k or not aligned", t->name);
}

/* Enters target t if it is a Vulkan one; *chooses: whether its profile takes Winograd by
 * itself (the lavapipe profile with texel views). */
static bool
enter_vulkan (const Target * t, bool *chooses)
{
  if (dae_backend_kind (t->be) != DAE_BACKEND_VULKAN)
    return false;
  target_enter (t);
  DaeVkTiles probe = dae_vk_gemm_tiles (t->s, 256, 512, true, true);
  *chooses = dae_vk_gemm_is_cpu_profile (&probe) && probe.texel;
  return true;
}

/* The lavapipe profile takes Winograd for the wide, many-tiled 3x3 convolutions of the UNet
 * (4x4 tiles where there are enough of them) and for nothing else; $DIFFAE_VK_WINOGRAD=0 turns
 * it off, =2 or =4 takes that tile size wherever it can run. */
static void
test_winograd_choice (const Target * t)
{
  bool lavapipe;
  if (!enter_vulkan (t, &lavapipe))
    return;
  DaeTensor x8 = {.n = 8,.c = 256,.h = 32,.w = 32 }, w3 = {.n = 256,.c = 256,.h = 3,.w = 3 };
  DaeTensor x2 = {.n = 8,.c = 256,.h = 8,.w = 8 };
  DaeTensor x1 = {.n = 1,.c = 256,.h = 16,.w = 16 }, w1 = {.n = 256,.c = 256,.h = 1,.w = 1 };
  DaeTensor x3c = {.n = 8,.c = 3,.h = 16,.w = 16 }, w3c = {.n = 256,.c = 3,.h = 3,.w = 3 };
  int wide = dae_vk_winograd_tile (t->s, &x8, &w3), small = dae_vk_winograd_tile (t->s, &x2, &w3);
  CHECK (wide == (lavapipe ? 4 : 0), "%s: Winograd tile %d for a 32x32x256 batch-8 conv3x3",
      t->name, wide);
  CHECK (small == (lavapipe ? 2 : 0), "%s: Winograd tile %d for an 8x8x256 batch-8 conv3x3",
      t->name, small);
  CHECK (dae_vk_winograd_tile (t->s, &x1, &w3) == 0, "%s: Winograd for 64 tiles", t->name);
  CHECK (dae_vk_winograd_tile (t->s, &x8, &w1) == 0, "%s: Winograd for a 1x1 conv", t->name);
  g_setenv ("DIFFAE_VK_WINOGRAD", "2", TRUE);
  CHECK (dae_vk_winograd_tile (t->s, &x1, &w3) == 2, "%s: forced Winograd not taken", t->name);
  CHECK (dae_vk_winograd_tile (t->s, &x3c, &w3c) == 0, "%s: Winograd with Cin %% 4 != 0",
      t->name);
  g_setenv ("DIFFAE_VK_WINOGRAD", "0", TRUE);
  CHECK (dae_vk_winograd_tile (t->s, &x8, &w3) == 0, "%s: Winograd taken with "
      "DIFFAE_VK_WINOGRAD=0", t->name);
  g_unsetenv ("DIFFAE_VK_WINOGRAD");
  if (g_getenv ("DIFFAE_TEST_VERBOSE"))
    fprintf (stderr, "  winograd on %s: tiles %d and %d\n", t->name, wide, small);
}

/* One Winograd convolution of x by w (forced tile m) against the reference with weights wh. */
static void
check_cached_conv (const Target * t, const char *what, int m, DaeTensor * x, DaeTensor * w,
    const float *xh, const float *wh, const RefConvShape * sh)
{
  size_t nx, nw, ny;
  conv_sizes (sh, &nx, &nw, &ny);
  double *ref = calloc (ny, sizeof *ref), *xd = to_double (xh, nx), *wd = to_double (wh, nw);
  ref_conv2d_forward (ref, xd, wd, NULL, sh, false);
  DaeTensor *y = dae_test_tensor (t->be, t->s, sh->n, sh->cout, sh->h, sh->w, NULL);
  DaeConvArgs args = {.ksize = 3 };
  g_setenv ("DIFFAE_VK_WINOGRAD", m == 2 ? "2" : "4", TRUE);
  dae_conv2d_forward (t->s, y, x, w, NULL, &args);
  g_unsetenv ("DIFFAE_VK_WINOGRAD");
  char named[96];
  g_snprintf (named, sizeof named, "winograd %d cache: %s", m, what);
  float *got = dae_test_read (t->s, y);
  compare (named, t, got, ref, NULL, ny, FWD_TOL);
  free (got);
  dae_tensor_free (y);
  free (ref);
  free (xd);
  free (wd);
}

/* Whether the stream holds w's F(m x m) transform as w is now (a query that changes nothing
 * once the transform was made; dae_vk_derived itself would hand out the entry to refill). */
static bool
transform_cached (const Target * t, const DaeTensor * w, int m)
{
  return dae_vk_derived_steady (t->s, w, (uint32_t) m, 0, SIZE_MAX);
}

/* The transformed weights are reused while the weights are not written, and remade after a
 * write from the host (dae_tensor_write) and after one by an op (here dae_copy): a stale
 * transform would give the old weights' result. */
static void
test_winograd_cache (const Target * t, DaeTestRng * r)
{
  bool chooses;
  if (!enter_vulkan (t, &chooses))
    return;
  RefConvShape sh = { 2, 8, 12, 9, 7, 3 };
  size_t nx, nw, ny;
  conv_sizes (&sh, &nx, &nw, &ny);
  float *xh = random_floats (r, nx), *w1 = random_floats (r, nw), *w2 = random_floats (r, nw);
  float *w3 = random_floats (r, nw);
  DaeTensor *x = dae_test_tensor (t->be, t->s, sh.n, sh.cin, sh.h, sh.w, xh);
  DaeTensor *w3t = dae_test_tensor (t->be, t->s, sh.cout, sh.cin, 3, 3, w3);
  for (int m = 2; m <= 4; m += 2) {
    DaeTensor *w = dae_test_tensor (t->be, t->s, sh.cout, sh.cin, 3, 3, w1);
    check_cached_conv (t, "first call", m, x, w, xh, w1, &sh);
    CHECK (transform_cached (t, w, m), "%s: F(%d) transform not cached", t->name, m);
    check_cached_conv (t, "reused", m, x, w, xh, w1, &sh);
    dae_tensor_write (t->s, w, w2);
    CHECK (!transform_cached (t, w, m), "%s: F(%d) transform kept after a host write",
        t->name, m);
    check_cached_conv (t, "after a host write", m, x, w, xh, w2, &sh);
    dae_copy (t->s, w, w3t);
    check_cached_conv (t, "after an op's write", m, x, w, xh, w3, &sh);
    dae_tensor_free (w);
  }
  dae_tensor_free (x);
  dae_tensor_free (w3t);
  free (xh);
  free (w1);
  free (w2);
  free (w3);
}

/* On lavapipe a single 16x16x256 image (16 tiles of 4x4) goes by Winograd only once its
 * weights were seen unchanged: a decode's second step on, never in training. */
static void
test_winograd_steady_choice (const Target * t)
{
  bool lavapipe;
  if (!enter_vulkan (t, &lavapipe))
    return;
  int later = lavapipe ? 4 : 0;
  DaeTensor x = {.n = 1,.c = 256,.h = 16,.w = 16 };
  DaeTensor *w = dae_test_tensor (t->be, t->s, 256, 256, 3, 3, NULL);
  int first = dae_vk_winograd_tile (t->s, &x, w), second = dae_vk_winograd_tile (t->s, &x, w);
  float *zeros = calloc (dae_tensor_numel (w), sizeof *zeros);
  dae_tensor_write (t->s, w, zeros);
  int rewritten = dae_vk_winograd_tile (t->s, &x, w), again = dae_vk_winograd_tile (t->s, &x, w);
  CHECK (first == 0 && second == later && rewritten == 0 && again == later,
      "%s: Winograd tiles %d, %d, then after a write %d, %d (expected 0, %d, 0, %d)", t->name,
      first, second, rewritten, again, later, later);
  g_setenv ("DIFFAE_VK_WINOGRAD_CACHE_MB", "0", TRUE);
  CHECK (dae_vk_winograd_tile (t->s, &x, w) == 0, "%s: few-tile Winograd without the weight "
      "cache", t->name);
  g_unsetenv ("DIFFAE_VK_WINOGRAD_CACHE_MB");
  free (zeros);
  dae_tensor_free (w);
}

static void
run_all (DaeTestRng * r)
{
  static const RefConvShape fd_shapes[] = {
    {2, 3, 4, 1, 1, 0},         /* linear: n 2, in 3, out 4 */
    {2, 3, 2, 3, 4, 1},
    {2, 2, 3, 4, 3, 3},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (fd_shapes); i++)
    test_reference_gradients (&fd_shapes[i], r);

  static const LinearCase linear_cases[] = {
    {1, 5, 1, 1, 7, true, false},
    {3, 13, 1, 1, 32, false, false},
    {3, 64, 1, 1, 7, true, true},
    {2, 4, 2, 3, 33, true, false},      /* x (2,4,2,3) flattened to in = 24 */
    {5, 100, 1, 1, 70, false, true},
    {3, 16, 1, 1, 36, true, true},      /* bias and accumulate, C rows 16-byte aligned */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (linear_cases); i++)
    test_linear_forward (&linear_cases[i], r);
  test_linear_backward (3, 13, 7, r);
  test_linear_backward (5, 67, 45, r);

  static const ConvCase conv_cases[] = {
    {1, 5, 7, 5, 9, 1, true, false},
    {3, 13, 32, 13, 7, 1, false, true},
    {3, 64, 7, 16, 16, 1, true, false},
    {1, 5, 7, 5, 9, 3, true, false},
    {3, 13, 32, 13, 7, 3, false, false},
    {3, 13, 7, 13, 7, 3, true, true},
    {2, 64, 32, 16, 16, 3, true, false},
    {3, 64, 32, 4, 4, 3, false, true},
    {2, 5, 7, 33, 32, 3, true, false},  /* one sample per GEMM on the CPU */
    {2, 3, 9, 8, 8, 3, true, false},
    {3, 8, 5, 7, 12, 3, true, true},
    {1, 4, 3, 5, 7, 3, true, false},    /* Winograd: one sample, odd sizes, partial tiles */
    {2, 4, 6, 1, 1, 3, false, true},    /* Winograd: one pixel */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (conv_cases); i++)
    test_conv_forward (&conv_cases[i], r);

  static const RefConvShape bwd_shapes[] = {
    {3, 13, 7, 5, 9, 1},
    {1, 5, 7, 13, 7, 3},
    {3, 13, 32, 13, 7, 3},
    {2, 32, 13, 8, 8, 3},
    {2, 5, 7, 33, 32, 3},
    {3, 4, 5, 40, 40, 3},       /* bias gradient in two passes (over 4096 values) */
    {2, 7, 8, 12, 8, 3},        /* flipped weights read as vec4 (Cout % 4 == 0) */
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bwd_shapes); i++)
    test_conv_backward (&bwd_shapes[i], r);

  static const GemmCase gemm_cases[] = {
    {13, 37, 29, 1, false, false, 0, 0, 1.0f, 0.0f},
    {13, 37, 29, 3, true, false, 2, 5, 0.5f, 0.0f},
    {33, 7, 64, 2, false, true, 1, 0, 1.0f, 1.0f},
    {70, 67, 45, 2, true, true, 3, 7, -2.0f, 0.25f},
    {1, 100, 17, 4, false, true, 0, 1, 1.0f, 0.0f},
    {20, 45, 32, 3, false, false, 0, 8, 1.0f, 0.5f},
    {24, 45, 64, 3, false, true, 0, 4, 1.0f, 0.5f},     /* B read as vec4 (lavapipe) */
    {9, 13, 4, 2, false, true, 0, 0, -1.0f, 0.0f},
    /* C 16-byte aligned (ld, batch stride and offset multiples of 4), N a multiple of 4 or
     * not (42, ld 44), more columns than one lavapipe workgroup's (128) */
    {20, 44, 32, 2, false, false, 0, 4, 1.0f, 0.5f},
    {17, 42, 24, 2, false, true, 2, 8, -1.0f, 0.25f},
    {40, 300, 16, 1, false, true, 0, 0, 1.0f, 0.0f},
  };
  for (int i = 0; i < ntargets; i++) {
    if (dae_backend_kind (targets[i].be) != DAE_BACKEND_VULKAN)
      continue;
    target_enter (&targets[i]);
    for (size_t j = 0; j < G_N_ELEMENTS (gemm_cases); j++)
      test_vk_gemm (&targets[i], &gemm_cases[j], r);
  }
}

int
main (void)
{
  DaeBackend *bes[4];
  int nbe = dae_test_open_backends (bes, 4);
  for (int i = 0; i < nbe; i++) {
    DaeError err = { 0 };
    DaeStream *s = NULL;
    if (!CHECK_OK (dae_stream_new (bes[i], &s, &err), &err))
      continue;
    bool is_vk = dae_backend_kind (bes[i]) == DAE_BACKEND_VULKAN;
    targets[ntargets++] = (Target) { bes[i], s, is_vk ? "vulkan" : "cpu", NULL, NULL };
    if (is_vk) {
      /* The profile the device would not choose by itself, so both are tested here. */
      const char *other = dae_backend_is_gpu (bes[i]) ? "cpu" : "gpu";
      targets[ntargets++] = (Target) { bes[i], s,
        dae_backend_is_gpu (bes[i]) ? "vulkan/cpu-tiles" : "vulkan/gpu-tiles", other, NULL };
      targets[ntargets++] = (Target) { bes[i], s, "vulkan/cpu-tiles-no-texel", "cpu", "0" };
    }
  }
  DaeTestRng r;
  dae_test_rng_seed (&r, 42);
  run_all (&r);
  for (int i = 0; i < ntargets; i++) {
    test_texel_choice (&targets[i]);
    test_winograd_choice (&targets[i]);
    test_winograd_cache (&targets[i], &r);
    test_winograd_steady_choice (&targets[i]);
  }
  for (int i = 0; i < ntargets; i++) {
    if (i > 0 && targets[i].s == targets[i - 1].s)
      continue;                 /* the second profile of the same stream */
    DaeError err = { 0 };
    CHECK_OK (dae_stream_sync (targets[i].s, &err), &err);
    dae_stream_free (targets[i].s);
  }
  for (int i = 0; i < nbe; i++)
    dae_backend_unref (bes[i]);
  return dae_test_finish ("test_gemm");
}
