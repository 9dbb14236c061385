/* Tests of the norm op family: both backends against the double-precision reference, and
 * the reference backward against central finite differences.
 *
 *  - reference backward vs finite differences (double) for every gradient: x, gamma, beta,
 *    scaleshift, zscale (GroupNorm) and x, gamma, beta, prescale (LayerNorm);
 *  - each backend's forward (y and stats) vs the reference on odd shapes, with and without
 *    each of scaleshift / zscale / SiLU / dropout; dropped elements must be exactly the
 *    reference mask's, and the same on every backend;
 *  - each backend's backward vs the reference backward, gradients pre-filled with random
 *    values (they must be added to) and several NULL-gradient combinations;
 *  - the Vulkan backend again with the GPU profile (DIFFAE_VK_PROFILE=gpu: several subgroups
 *    per workgroup), and its backward run twice must agree bit for bit.
 *
 * Usage: test_norm [bench]. "bench" times GroupNorm forward+backward at 8x64x64x64 per
 * backend (set DIFFAE_PROFILE=1 for the per-op table). */
#include "test_util.h"
#include "ref/ref_norm.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Forward: max error relative to the output's largest magnitude (doc/compute.md). */
#define FWD_TOL 1e-4
/* Backward vs reference backward: float sums over up to ~17k terms with cancellation
 * (dx = rstd (dxh - mean - xh mean2)) lose a few digits against the largest gradient; 1e-4
 * of the largest magnitude still catches any wrong term (those are O(1) relative). */
#define BWD_TOL 1e-4
/* Reference vs finite differences, both in double: truncation and rounding ~1e-9. */
#define FD_TOL 1e-6
#define FD_STEP 1e-5

static double *
to_double (const float *x, size_t n)
{
  double *d = malloc (n * sizeof *d);
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

/* max |got - pre - ref| / max(max |ref|, floor): a gradient added into pre-filled values. */
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

/* Central differences of loss() with respect to each element of param, compared with the
 * analytic gradient: max error relative to the largest analytic value. */
typedef double (*LossFn) (void *ctx);

static double
fd_error (double *param, size_t count, const double *analytic, LossFn loss, void *ctx)
{
  double maxref = 1e-6, maxdiff = 0;
  for (size_t i = 0; i < count; i++) {
    double save = param[i];
    param[i] = save + FD_STEP;
    double lp = loss (ctx);
    param[i] = save - FD_STEP;
    double lm = loss (ctx);
    param[i] = save;
    double fd = (lp - lm) / (2 * FD_STEP);
    maxdiff = fmax (maxdiff, fabs (fd - analytic[i]));
    maxref = fmax (maxref, fabs (analytic[i]));
  }
  return maxdiff / maxref;
}

static double
dot (const double *a, const double *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

/* Elements the reference drops must be exactly zero, the others not. Returns mismatches. */
static int
dropout_mismatches (const float *y, size_t n, uint32_t seed, float p)
{
  int bad = 0;
  for (size_t i = 0; i < n; i++)
    bad += (ref_dropout_factor (seed, i, p) == 0.0) != (y[i] == 0.0f);
  return bad;
}

/* The zero pattern of the first backend's output per case, compared with later backends. */
#define MAX_CASES 32
static unsigned char *first_masks[MAX_CASES];

static void
compare_mask_across_backends (int case_id, const float *y, size_t n, const char *what)
{
  if (case_id >= MAX_CASES)
    return;
  unsigned char *m = malloc (n);
  for (size_t i = 0; i < n; i++)
    m[i] = y[i] == 0.0f;
  if (!first_masks[case_id]) {
    first_masks[case_id] = m;
    return;
  }
  CHECK (memcmp (m, first_masks[case_id], n) == 0,
      "%s case %d: dropout zeros differ between backends", what, case_id);
  free (m);
}

/* ---- GroupNorm ---------------------------------------------------------------------------- */

typedef struct {
  int n, c, groups, h, w;
  bool scaleshift, zscale, silu;
  float dropout;
  float offset;                 /* added to x: a mean large against the spread */
} GnCase;

/* A case's data in float (for the backends) and double (for the reference). */
typedef struct {
  GnCase k;
  size_t numel;
  float *x, *gamma, *beta, *ss, *z, *dy;
  double *xd, *gammad, *betad, *ssd, *zd, *dyd;
  RefGroupNorm ref;
} GnData;

static void
gn_data_init (GnData * d, const GnCase * k, uint64_t seed)
{
  DaeTestRng r;
  dae_test_rng_seed (&r, seed);
  memset (d, 0, sizeof *d);
  d->k = *k;
  d->numel = (size_t) k->n * k->c * k->h * k->w;
  d->x = random_floats (&r, d->numel, -2.0f, 3.0f);
  for (size_t i = 0; i < d->numel; i++)  /* channel-dependent means, plus the offset */
    d->x[i] += k->offset + 0.3f * (float) ((i / ((size_t) k->h * k->w)) % 5);
  d->gamma = random_floats (&r, k->c, 0.5f, 1.5f);
  d->beta = random_floats (&r, k->c, -0.5f, 0.5f);
  d->ss = random_floats (&r, (size_t) k->n * 2 * k->c, -0.5f, 0.5f);
  d->z = random_floats (&r, (size_t) k->n * k->c, -0.5f, 0.5f);
  d->dy = random_floats (&r, d->numel, -1.0f, 1.0f);
  d->xd = to_double (d->x, d->numel);
  d->gammad = to_double (d->gamma, k->c);
  d->betad = to_double (d->beta, k->c);
  d->ssd = to_double (d->ss, (size_t) k->n * 2 * k->c);
  d->zd = to_double (d->z, (size_t) k->n * k->c);
  d->dyd = to_double (d->dy, d->numel);
  d->ref = (RefGroupNorm) {
    .n = k->n,.c = k->c,.h = k->h,.w = k->w,.groups = k->groups,.eps = 1e-5,
    .gamma = d->gammad,.beta = d->betad,
    .scaleshift = k->scaleshift ? d->ssd : NULL,
    .zscale = k->zscale ? d->zd : NULL,
    .silu = k->silu,.dropout = k->dropout,.seed = 1234,
  };
}

static void
gn_data_free (GnData * d)
{
  void *ptrs[] = { d->x, d->gamma, d->beta, d->ss, d->z, d->dy, d->xd, d->gammad, d->betad,
    d->ssd, d->zd, d->dyd
  };
  for (size_t i = 0; i < G_N_ELEMENTS (ptrs); i++)
    free (ptrs[i]);
}

static const char *
gn_case_str (const GnCase * k, char *buf, size_t len)
{
  g_snprintf (buf, len, "GN %dx%dx%dx%d g%d%s%s%s%s%s", k->n, k->c, k->h, k->w, k->groups,
      k->scaleshift ? " ss" : "", k->zscale ? " z" : "", k->silu ? " silu" : "",
      k->dropout > 0 ? " dropout" : "", k->offset != 0 ? " offset" : "");
  return buf;
}

typedef struct {
  GnData *d;
  double *y;
} GnLossCtx;

/* sum(y * dy): its gradient is the backward of dy. */
static double
gn_loss (void *ctx)
{
  GnLossCtx *c = ctx;
  ref_groupnorm_forward (c->y, NULL, c->d->xd, &c->d->ref);
  return dot (c->y, c->d->dyd, c->d->numel);
}

static void
test_groupnorm_fd (void)
{
  const GnCase cases[] = {
    {2, 6, 3, 3, 5, true, true, true, 0.1f, 0},
    {1, 4, 2, 2, 3, false, false, false, 0, 0},
    {2, 4, 4, 3, 2, true, false, true, 0, 0},
    {1, 6, 2, 3, 3, false, true, false, 0.1f, 0},
  };
  for (size_t ci = 0; ci < G_N_ELEMENTS (cases); ci++) {
    GnData d;
    gn_data_init (&d, &cases[ci], 100 + ci);
    const GnCase *k = &d.k;
    size_t nss = (size_t) k->n * 2 * k->c, nz = (size_t) k->n * k->c;
    double *dx = calloc (d.numel, 8), *dg = calloc (k->c, 8), *db = calloc (k->c, 8);
    double *dss = calloc (nss, 8), *dz = calloc (nz, 8);
    ref_groupnorm_backward (dx, dg, db, k->scaleshift ? dss : NULL, k->zscale ? dz : NULL,
        d.dyd, d.xd, &d.ref);
    GnLossCtx ctx = { &d, malloc (d.numel * 8) };
    char name[128];
    gn_case_str (k, name, sizeof name);
    double e[5] = {
      fd_error (d.xd, d.numel, dx, gn_loss, &ctx),
      fd_error (d.gammad, k->c, dg, gn_loss, &ctx),
      fd_error (d.betad, k->c, db, gn_loss, &ctx),
      k->scaleshift ? fd_error (d.ssd, nss, dss, gn_loss, &ctx) : 0,
      k->zscale ? fd_error (d.zd, nz, dz, gn_loss, &ctx) : 0,
    };
    const char *names[] = { "dx", "dgamma", "dbeta", "dscaleshift", "dzscale" };
    for (int i = 0; i < 5; i++)
      CHECK (e[i] < FD_TOL, "%s: reference %s vs finite differences: %.3g", name, names[i],
          e[i]);
    fprintf (stderr, "  fd %-40s dx %.1e dgamma %.1e dbeta %.1e dss %.1e dz %.1e\n", name,
        e[0], e[1], e[2], e[3], e[4]);
    free (ctx.y);
    free (dx);
    free (dg);
    free (db);
    free (dss);
    free (dz);
    gn_data_free (&d);
  }
}

static const GnCase gn_cases[] = {
  {1, 6, 3, 5, 7, false, false, false, 0, 0},
  {3, 12, 4, 9, 13, true, true, true, 0, 0},
  {2, 64, 32, 16, 16, true, true, true, 0.1f, 0},
  {3, 6, 3, 5, 7, false, false, true, 0.1f, 0},
  {1, 12, 4, 9, 13, false, true, false, 0, 0},
  {3, 64, 32, 16, 16, true, false, false, 0, 0},
  {2, 4, 2, 91, 93, true, true, true, 0.1f, 0},   /* several chunks per group and plane */
  {2, 8, 4, 7, 9, true, true, true, 0, 100.0f},   /* mean 100x the spread */
  {1, 64, 32, 16, 16, false, false, true, 0.1f, 0},
};

/* Which gradients one backward call asks for. */
typedef struct {
  bool dx, dgamma, dbeta, dss, dz;
} GnGradSet;

static const GnGradSet gn_grad_sets[] = {
  {true, true, true, true, true},
  {true, false, false, false, false},
  {false, true, true, true, true},
  {false, false, true, true, false},
  {false, true, false, false, true},
};

typedef struct {
  double y, stats, dx, dgamma, dbeta, dss, dz;
} GnErrors;

static void
gn_forward_check (DaeBackend * be, DaeStream * s, GnData * d, int case_id, GnErrors * worst)
{
  const GnCase *k = &d->k;
  char name[128];
  gn_case_str (k, name, sizeof name);
  DaeTensor *x = dae_test_tensor (be, s, k->n, k->c, k->h, k->w, d->x);
  DaeTensor *y = dae_test_tensor (be, s, k->n, k->c, k->h, k->w, NULL);
  DaeTensor *st = dae_test_tensor (be, s, k->n, k->groups, 2, 1, NULL);
  DaeTensor *gamma = dae_test_tensor (be, s, 1, k->c, 1, 1, d->gamma);
  DaeTensor *beta = dae_test_tensor (be, s, 1, k->c, 1, 1, d->beta);
  DaeTensor *ss = dae_test_tensor (be, s, k->n, 2 * k->c, 1, 1, d->ss);
  DaeTensor *z = dae_test_tensor (be, s, k->n, k->c, 1, 1, d->z);
  DaeGroupNormArgs a = {
    .groups = k->groups,.eps = 1e-5f,.gamma = gamma,.beta = beta,
    .scaleshift = k->scaleshift ? ss : NULL,.zscale = k->zscale ? z : NULL,
    .silu = k->silu,.dropout = k->dropout,.seed = d->ref.seed,
  };
  dae_groupnorm_forward (s, y, st, x, &a);
  float *yo = dae_test_read (s, y), *so = dae_test_read (s, st);
  double *yr = malloc (d->numel * 8), *sr = malloc ((size_t) k->n * k->groups * 2 * 8);
  ref_groupnorm_forward (yr, sr, d->xd, &d->ref);
  double ey = dae_test_max_rel_error (yo, yr, d->numel, 1e-6);
  double es = 0;
  for (int g = 0; g < k->n * k->groups; g++) {
    /* mean against the spread (1/rstd), rstd relative */
    es = fmax (es, fabs (so[2 * g] - sr[2 * g]) * sr[2 * g + 1]);
    es = fmax (es, fabs (so[2 * g + 1] - sr[2 * g + 1]) / sr[2 * g + 1]);
  }
  CHECK (ey < FWD_TOL, "%s: y error %.3g", name, ey);
  CHECK (es < FWD_TOL, "%s: stats error %.3g", name, es);
  if (k->dropout > 0) {
    int bad = dropout_mismatches (yo, d->numel, d->ref.seed, k->dropout);
    CHECK (bad == 0, "%s: %d elements differ from the reference dropout mask", name, bad);
    compare_mask_across_backends (case_id, yo, d->numel, "GN");
  }
  worst->y = fmax (worst->y, ey);
  worst->stats = fmax (worst->stats, es);
  free (yo);
  free (so);
  free (yr);
  free (sr);
  DaeTensor *ts[] = { x, y, st, gamma, beta, ss, z };
  for (size_t i = 0; i < G_N_ELEMENTS (ts); i++)
    dae_tensor_free (ts[i]);
}

/* One backward call with gradient set gs; gradients pre-filled with random values. Returns
 * the dx read back (for the determinism check) when keep_dx. */
static float *
gn_backward_check (DaeBackend * be, DaeStream * s, GnData * d, const GnGradSet * gs,
    GnErrors * worst, bool keep_dx)
{
  const GnCase *k = &d->k;
  char name[128];
  gn_case_str (k, name, sizeof name);
  bool want_ss = gs->dss && k->scaleshift, want_z = gs->dz && k->zscale;
  size_t nss = (size_t) k->n * 2 * k->c, nz = (size_t) k->n * k->c;
  DaeTestRng r;
  dae_test_rng_seed (&r, 77);
  float *pre_dx = random_floats (&r, d->numel, -1, 1), *pre_g = random_floats (&r, k->c, -1, 1);
  float *pre_b = random_floats (&r, k->c, -1, 1), *pre_ss = random_floats (&r, nss, -1, 1);
  float *pre_z = random_floats (&r, nz, -1, 1);

  DaeTensor *x = dae_test_tensor (be, s, k->n, k->c, k->h, k->w, d->x);
  DaeTensor *y = dae_test_tensor (be, s, k->n, k->c, k->h, k->w, NULL);
  DaeTensor *dy = dae_test_tensor (be, s, k->n, k->c, k->h, k->w, d->dy);
  DaeTensor *st = dae_test_tensor (be, s, k->n, k->groups, 2, 1, NULL);
  DaeTensor *gamma = dae_test_tensor (be, s, 1, k->c, 1, 1, d->gamma);
  DaeTensor *beta = dae_test_tensor (be, s, 1, k->c, 1, 1, d->beta);
  DaeTensor *ss = dae_test_tensor (be, s, k->n, 2 * k->c, 1, 1, d->ss);
  DaeTensor *z = dae_test_tensor (be, s, k->n, k->c, 1, 1, d->z);
  DaeTensor *dx = dae_test_tensor (be, s, k->n, k->c, k->h, k->w, pre_dx);
  DaeTensor *dg = dae_test_tensor (be, s, 1, k->c, 1, 1, pre_g);
  DaeTensor *db = dae_test_tensor (be, s, 1, k->c, 1, 1, pre_b);
  DaeTensor *dss = dae_test_tensor (be, s, k->n, 2 * k->c, 1, 1, pre_ss);
  DaeTensor *dz = dae_test_tensor (be, s, k->n, k->c, 1, 1, pre_z);
  DaeGroupNormArgs a = {
    .groups = k->groups,.eps = 1e-5f,.gamma = gamma,.beta = beta,
    .scaleshift = k->scaleshift ? ss : NULL,.zscale = k->zscale ? z : NULL,
    .silu = k->silu,.dropout = k->dropout,.seed = d->ref.seed,
  };
  DaeGroupNormGrads g = {
    .dgamma = gs->dgamma ? dg : NULL,.dbeta = gs->dbeta ? db : NULL,
    .dscaleshift = want_ss ? dss : NULL,.dzscale = want_z ? dz : NULL,
  };
  dae_groupnorm_forward (s, y, st, x, &a);
  dae_groupnorm_backward (s, gs->dx ? dx : NULL, &g, dy, x, st, &a);
  DaeError err = { 0 };
  CHECK_OK (dae_stream_sync (s, &err), &err);

  double *rdx = calloc (d->numel, 8), *rg = calloc (k->c, 8), *rb = calloc (k->c, 8);
  double *rss = calloc (nss, 8), *rz = calloc (nz, 8);
  ref_groupnorm_backward (rdx, rg, rb, k->scaleshift ? rss : NULL, k->zscale ? rz : NULL,
      d->dyd, d->xd, &d->ref);
  struct {
    DaeTensor *t;
    const float *pre;
    const double *ref;
    size_t n;
    bool want;
    double *worst;
    const char *what;
  } outs[] = {
    {dx, pre_dx, rdx, d->numel, gs->dx, &worst->dx, "dx"},
    {dg, pre_g, rg, (size_t) k->c, gs->dgamma, &worst->dgamma, "dgamma"},
    {db, pre_b, rb, (size_t) k->c, gs->dbeta, &worst->dbeta, "dbeta"},
    {dss, pre_ss, rss, nss, want_ss, &worst->dss, "dscaleshift"},
    {dz, pre_z, rz, nz, want_z, &worst->dz, "dzscale"},
  };
  float *kept = NULL;
  for (size_t i = 0; i < G_N_ELEMENTS (outs); i++) {
    float *got = dae_test_read (s, outs[i].t);
    if (outs[i].want) {
      double e = added_error (got, outs[i].pre, outs[i].ref, outs[i].n);
      CHECK (e < BWD_TOL, "%s: %s error %.3g", name, outs[i].what, e);
      *outs[i].worst = fmax (*outs[i].worst, e);
    } else {
      CHECK (memcmp (got, outs[i].pre, outs[i].n * 4) == 0, "%s: %s was not asked for "
          "but changed", name, outs[i].what);
    }
    if (i == 0 && keep_dx)
      kept = got;
    else
      free (got);
  }
  DaeTensor *ts[] = { x, y, dy, st, gamma, beta, ss, z, dx, dg, db, dss, dz };
  for (size_t i = 0; i < G_N_ELEMENTS (ts); i++)
    dae_tensor_free (ts[i]);
  void *ptrs[] = { pre_dx, pre_g, pre_b, pre_ss, pre_z, rdx, rg, rb, rss, rz };
  for (size_t i = 0; i < G_N_ELEMENTS (ptrs); i++)
    free (ptrs[i]);
  return kept;
}

static void
test_groupnorm_backend (DaeBackend * be, DaeStream * s)
{
  GnErrors worst = { 0 };
  for (size_t ci = 0; ci < G_N_ELEMENTS (gn_cases); ci++) {
    GnData d;
    gn_data_init (&d, &gn_cases[ci], 200 + ci);
    gn_forward_check (be, s, &d, (int) ci, &worst);
    for (size_t gi = 0; gi < G_N_ELEMENTS (gn_grad_sets); gi++)
      free (gn_backward_check (be, s, &d, &gn_grad_sets[gi], &worst, false));
    gn_data_free (&d);
  }
  /* run to run: the same backward twice gives the same bits */
  GnData d;
  gn_data_init (&d, &gn_cases[6], 300);
  float *a = gn_backward_check (be, s, &d, &gn_grad_sets[0], &worst, true);
  float *b = gn_backward_check (be, s, &d, &gn_grad_sets[0], &worst, true);
  CHECK (memcmp (a, b, d.numel * 4) == 0, "GroupNorm backward is not deterministic");
  free (a);
  free (b);
  gn_data_free (&d);
  fprintf (stderr, "  GN worst errors: y %.2e stats %.2e dx %.2e dgamma %.2e dbeta %.2e "
      "dss %.2e dz %.2e\n", worst.y, worst.stats, worst.dx, worst.dgamma, worst.dbeta,
      worst.dss, worst.dz);
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

typedef struct {
  int n, c;
  bool prescale, silu;
  float dropout;
  float offset;
} LnCase;

typedef struct {
  LnCase k;
  size_t numel;
  float *x, *gamma, *beta, *ps, *dy;
  double *xd, *gammad, *betad, *psd, *dyd;
  RefLayerNorm ref;
} LnData;

static void
ln_data_init (LnData * d, const LnCase * k, uint64_t seed)
{
  DaeTestRng r;
  dae_test_rng_seed (&r, seed);
  memset (d, 0, sizeof *d);
  d->k = *k;
  d->numel = (size_t) k->n * k->c;
  d->x = random_floats (&r, d->numel, -2.0f, 2.5f);
  for (size_t i = 0; i < d->numel; i++)
    d->x[i] += k->offset;
  d->gamma = random_floats (&r, k->c, 0.5f, 1.5f);
  d->beta = random_floats (&r, k->c, -0.5f, 0.5f);
  d->ps = random_floats (&r, d->numel, -0.5f, 0.5f);
  d->dy = random_floats (&r, d->numel, -1.0f, 1.0f);
  d->xd = to_double (d->x, d->numel);
  d->gammad = to_double (d->gamma, k->c);
  d->betad = to_double (d->beta, k->c);
  d->psd = to_double (d->ps, d->numel);
  d->dyd = to_double (d->dy, d->numel);
  d->ref = (RefLayerNorm) {
    .n = k->n,.c = k->c,.eps = 1e-5,.gamma = d->gammad,.beta = d->betad,
    .prescale = k->prescale ? d->psd : NULL,.silu = k->silu,.dropout = k->dropout,
    .seed = 99,
  };
}

static void
ln_data_free (LnData * d)
{
  void *ptrs[] = { d->x, d->gamma, d->beta, d->ps, d->dy, d->xd, d->gammad, d->betad, d->psd,
    d->dyd
  };
  for (size_t i = 0; i < G_N_ELEMENTS (ptrs); i++)
    free (ptrs[i]);
}

static const char *
ln_case_str (const LnCase * k, char *buf, size_t len)
{
  g_snprintf (buf, len, "LN %dx%d%s%s%s%s", k->n, k->c, k->prescale ? " prescale" : "",
      k->silu ? " silu" : "", k->dropout > 0 ? " dropout" : "", k->offset != 0 ? " offset" : "");
  return buf;
}

typedef struct {
  LnData *d;
  double *y;
} LnLossCtx;

static double
ln_loss (void *ctx)
{
  LnLossCtx *c = ctx;
  ref_layernorm_forward (c->y, NULL, c->d->xd, &c->d->ref);
  return dot (c->y, c->d->dyd, c->d->numel);
}

static void
test_layernorm_fd (void)
{
  const LnCase cases[] = {
    {3, 5, true, true, 0.1f, 0},
    {2, 7, false, false, 0, 0},
    {1, 6, true, false, 0, 0},
    {2, 9, false, true, 0.3f, 0},
  };
  for (size_t ci = 0; ci < G_N_ELEMENTS (cases); ci++) {
    LnData d;
    ln_data_init (&d, &cases[ci], 400 + ci);
    const LnCase *k = &d.k;
    double *dx = calloc (d.numel, 8), *dg = calloc (k->c, 8), *db = calloc (k->c, 8);
    double *dps = calloc (d.numel, 8);
    ref_layernorm_backward (dx, dg, db, k->prescale ? dps : NULL, d.dyd, d.xd, &d.ref);
    LnLossCtx ctx = { &d, malloc (d.numel * 8) };
    char name[128];
    ln_case_str (k, name, sizeof name);
    double e[4] = {
      fd_error (d.xd, d.numel, dx, ln_loss, &ctx),
      fd_error (d.gammad, k->c, dg, ln_loss, &ctx),
      fd_error (d.betad, k->c, db, ln_loss, &ctx),
      k->prescale ? fd_error (d.psd, d.numel, dps, ln_loss, &ctx) : 0,
    };
    const char *names[] = { "dx", "dgamma", "dbeta", "dprescale" };
    for (int i = 0; i < 4; i++)
      CHECK (e[i] < FD_TOL, "%s: reference %s vs finite differences: %.3g", name, names[i],
          e[i]);
    fprintf (stderr, "  fd %-40s dx %.1e dgamma %.1e dbeta %.1e dprescale %.1e\n", name,
        e[0], e[1], e[2], e[3]);
    free (ctx.y);
    free (dx);
    free (dg);
    free (db);
    free (dps);
    ln_data_free (&d);
  }
}

static const LnCase ln_cases[] = {
  {1, 5, false, false, 0, 0},
  {3, 5, true, true, 0.1f, 0},
  {7, 64, true, true, 0, 0},
  {3, 64, false, true, 0.1f, 0},
  {1, 257, true, false, 0, 0},
  {7, 257, true, true, 0.1f, 0},
  {2, 2049, true, true, 0.1f, 0},
  {3, 64, true, false, 0, 100.0f},
};

typedef struct {
  bool dx, dgamma, dbeta, dps;
} LnGradSet;

static const LnGradSet ln_grad_sets[] = {
  {true, true, true, true},
  {true, false, false, false},
  {false, false, false, true},
  {false, true, true, false},
  {false, true, false, false},
};

typedef struct {
  double y, stats, dx, dgamma, dbeta, dps;
} LnErrors;

static void
ln_check (DaeBackend * be, DaeStream * s, LnData * d, int case_id, const LnGradSet * gs,
    LnErrors * worst)
{
  const LnCase *k = &d->k;
  char name[128];
  ln_case_str (k, name, sizeof name);
  bool want_ps = gs->dps && k->prescale;
  DaeTestRng r;
  dae_test_rng_seed (&r, 78);
  float *pre_dx = random_floats (&r, d->numel, -1, 1), *pre_g = random_floats (&r, k->c, -1, 1);
  float *pre_b = random_floats (&r, k->c, -1, 1), *pre_ps = random_floats (&r, d->numel, -1, 1);
  DaeTensor *x = dae_test_tensor (be, s, k->n, k->c, 1, 1, d->x);
  DaeTensor *y = dae_test_tensor (be, s, k->n, k->c, 1, 1, NULL);
  DaeTensor *st = dae_test_tensor (be, s, k->n, 1, 2, 1, NULL);
  DaeTensor *gamma = dae_test_tensor (be, s, 1, k->c, 1, 1, d->gamma);
  DaeTensor *beta = dae_test_tensor (be, s, 1, k->c, 1, 1, d->beta);
  DaeTensor *ps = dae_test_tensor (be, s, k->n, k->c, 1, 1, d->ps);
  DaeTensor *dy = dae_test_tensor (be, s, k->n, k->c, 1, 1, d->dy);
  DaeTensor *dx = dae_test_tensor (be, s, k->n, k->c, 1, 1, pre_dx);
  DaeTensor *dg = dae_test_tensor (be, s, 1, k->c, 1, 1, pre_g);
  DaeTensor *db = dae_test_tensor (be, s, 1, k->c, 1, 1, pre_b);
  DaeTensor *dps = dae_test_tensor (be, s, k->n, k->c, 1, 1, pre_ps);
  DaeLayerNormArgs a = {
    .eps = 1e-5f,.gamma = gamma,.beta = beta,.prescale = k->prescale ? ps : NULL,
    .silu = k->silu,.dropout = k->dropout,.seed = d->ref.seed,
  };
  DaeLayerNormGrads g = {
    .dgamma = gs->dgamma ? dg : NULL,.dbeta = gs->dbeta ? db : NULL,
    .dprescale = want_ps ? dps : NULL,
  };
  dae_layernorm_forward (s, y, st, x, &a);
  dae_layernorm_backward (s, gs->dx ? dx : NULL, &g, dy, x, st, &a);

  /* forward */
  float *yo = dae_test_read (s, y), *so = dae_test_read (s, st);
  double *yr = malloc (d->numel * 8), *sr = malloc ((size_t) k->n * 2 * 8);
  ref_layernorm_forward (yr, sr, d->xd, &d->ref);
  double ey = dae_test_max_rel_error (yo, yr, d->numel, 1e-6), es = 0;
  for (int n = 0; n < k->n; n++) {
    es = fmax (es, fabs (so[2 * n] - sr[2 * n]) * sr[2 * n + 1]);
    es = fmax (es, fabs (so[2 * n + 1] - sr[2 * n + 1]) / sr[2 * n + 1]);
  }
  CHECK (ey < FWD_TOL, "%s: y error %.3g", name, ey);
  CHECK (es < FWD_TOL, "%s: stats error %.3g", name, es);
  if (k->dropout > 0) {
    int bad = dropout_mismatches (yo, d->numel, d->ref.seed, k->dropout);
    CHECK (bad == 0, "%s: %d elements differ from the reference dropout mask", name, bad);
    compare_mask_across_backends (16 + case_id, yo, d->numel, "LN");
  }
  worst->y = fmax (worst->y, ey);
  worst->stats = fmax (worst->stats, es);

  /* backward */
  double *rdx = calloc (d->numel, 8), *rg = calloc (k->c, 8), *rb = calloc (k->c, 8);
  double *rps = calloc (d->numel, 8);
  ref_layernorm_backward (rdx, rg, rb, k->prescale ? rps : NULL, d->dyd, d->xd, &d->ref);
  struct {
    DaeTensor *t;
    const float *pre;
    const double *ref;
    size_t n;
    bool want;
    double *worst;
    const char *what;
  } outs[] = {
    {dx, pre_dx, rdx, d->numel, gs->dx, &worst->dx, "dx"},
    {dg, pre_g, rg, (size_t) k->c, gs->dgamma, &worst->dgamma, "dgamma"},
    {db, pre_b, rb, (size_t) k->c, gs->dbeta, &worst->dbeta, "dbeta"},
    {dps, pre_ps, rps, d->numel, want_ps, &worst->dps, "dprescale"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (outs); i++) {
    float *got = dae_test_read (s, outs[i].t);
    if (outs[i].want) {
      double e = added_error (got, outs[i].pre, outs[i].ref, outs[i].n);
      CHECK (e < BWD_TOL, "%s: %s error %.3g", name, outs[i].what, e);
      *outs[i].worst = fmax (*outs[i].worst, e);
    } else {
      CHECK (memcmp (got, outs[i].pre, outs[i].n * 4) == 0, "%s: %s was not asked for "
          "but changed", name, outs[i].what);
    }
    free (got);
  }
  DaeTensor *ts[] = { x, y, st, gamma, beta, ps, dy, dx, dg, db, dps };
  for (size_t i = 0; i < G_N_ELEMENTS (ts); i++)
    dae_tensor_free (ts[i]);
  void *ptrs[] = { pre_dx, pre_g, pre_b, pre_ps, yo, so, yr, sr, rdx, rg, rb, rps };
  for (size_t i = 0; i < G_N_ELEMENTS (ptrs); i++)
    free (ptrs[i]);
}

static void
test_layernorm_backend (DaeBackend * be, DaeStream * s)
{
  LnErrors worst = { 0 };
  for (size_t ci = 0; ci < G_N_ELEMENTS (ln_cases); ci++) {
    LnData d;
    ln_data_init (&d, &ln_cases[ci], 500 + ci);
    for (size_t gi = 0; gi < G_N_ELEMENTS (ln_grad_sets); gi++)
      ln_check (be, s, &d, (int) ci, &ln_grad_sets[gi], &worst);
    ln_data_free (&d);
  }
  fprintf (stderr, "  LN worst errors: y %.2e stats %.2e dx %.2e dgamma %.2e dbeta %.2e "
      "dprescale %.2e\n", worst.y, worst.stats, worst.dx, worst.dgamma, worst.dbeta, worst.dps);
}

/* ---- benchmark ---------------------------------------------------------------------------- */

/* GroupNorm forward + backward of the decoder's shapes at 64x64: batch 8, 64 channels,
 * 32 groups; the fused modulation with SiLU (and dropout, as in training). */
static void
bench_groupnorm (DaeBackend * be, DaeStream * s)
{
  const int N = 8, C = 64, H = 64, W = 64, G = 32, iters = 10;
  size_t numel = (size_t) N * C * H * W;
  DaeTestRng r;
  dae_test_rng_seed (&r, 5);
  float *host = random_floats (&r, numel, -1, 1);
  DaeTensor *x = dae_test_tensor (be, s, N, C, H, W, host);
  DaeTensor *dy = dae_test_tensor (be, s, N, C, H, W, host);
  DaeTensor *y = dae_test_tensor (be, s, N, C, H, W, NULL);
  DaeTensor *dx = dae_test_tensor (be, s, N, C, H, W, NULL);
  DaeTensor *st = dae_test_tensor (be, s, N, G, 2, 1, NULL);
  DaeTensor *gamma = dae_test_tensor (be, s, 1, C, 1, 1, host);
  DaeTensor *beta = dae_test_tensor (be, s, 1, C, 1, 1, host);
  DaeTensor *ss = dae_test_tensor (be, s, N, 2 * C, 1, 1, host);
  DaeTensor *z = dae_test_tensor (be, s, N, C, 1, 1, host);
  DaeTensor *dg = dae_test_tensor (be, s, 1, C, 1, 1, NULL);
  DaeTensor *db = dae_test_tensor (be, s, 1, C, 1, 1, NULL);
  DaeTensor *dss = dae_test_tensor (be, s, N, 2 * C, 1, 1, NULL);
  DaeTensor *dz = dae_test_tensor (be, s, N, C, 1, 1, NULL);
  const char *labels[] = { "GN+SiLU", "GN+ss+z+SiLU+dropout" };
  for (int variant = 0; variant < 2; variant++) {
    bool full = variant == 1;
    DaeGroupNormArgs a = {
      .groups = G,.eps = 1e-5f,.gamma = gamma,.beta = beta,
      .scaleshift = full ? ss : NULL,.zscale = full ? z : NULL,.silu = true,
      .dropout = full ? 0.1f : 0.0f,.seed = 3,
    };
    DaeGroupNormGrads g = {
      .dgamma = dg,.dbeta = db,.dscaleshift = full ? dss : NULL,.dzscale = full ? dz : NULL
    };
    DaeError err = { 0 };
    dae_groupnorm_forward (s, y, st, x, &a);    /* warm-up: pipelines, scratch */
    dae_groupnorm_backward (s, dx, &g, dy, x, st, &a);
    CHECK_OK (dae_stream_sync (s, &err), &err);
    dae_profile_reset ();
    gint64 t0 = g_get_monotonic_time ();
    for (int i = 0; i < iters; i++) {
      dae_groupnorm_forward (s, y, st, x, &a);
      dae_groupnorm_backward (s, dx, &g, dy, x, st, &a);
    }
    CHECK_OK (dae_stream_sync (s, &err), &err);
    double ms = (g_get_monotonic_time () - t0) / 1000.0 / iters;
    printf ("%s, %s, %dx%dx%dx%d groups %d: forward+backward %.2f ms per iteration "
        "(wall, %d iterations)\n", dae_backend_description (be), labels[variant], N, C, H, W,
        G, ms, iters);
    if (dae_profile_enabled ())
      dae_profile_report (stdout);
  }
  DaeTensor *ts[] = { x, dy, y, dx, st, gamma, beta, ss, z, dg, db, dss, dz };
  for (size_t i = 0; i < G_N_ELEMENTS (ts); i++)
    dae_tensor_free (ts[i]);
  free (host);
}

int
main (int argc, char **argv)
{
  bool bench = argc > 1 && strcmp (argv[1], "bench") == 0;
  if (!bench) {
    test_groupnorm_fd ();
    test_layernorm_fd ();
  }
  DaeBackend *backends[4];
  int nb = dae_test_open_backends (backends, 4);
  for (int b = 0; b < nb; b++) {
    DaeStream *s = NULL;
    DaeError err = { 0 };
    if (!CHECK_OK (dae_stream_new (backends[b], &s, &err), &err))
      continue;
    if (bench) {
      bench_groupnorm (backends[b], s);
    } else {
      bool vk = dae_backend_kind (backends[b]) == DAE_BACKEND_VULKAN;
      int runs = vk ? 2 : 1;
      for (int run = 0; run < runs; run++) {
        if (vk)
          g_setenv ("DIFFAE_VK_PROFILE", run ? "gpu" : "cpu", TRUE);
        fprintf (stderr, "%s%s\n", dae_backend_description (backends[b]),
            vk ? (run ? " (GPU profile)" : " (lavapipe profile)") : "");
        gint64 t0 = g_get_monotonic_time ();
        test_groupnorm_backend (backends[b], s);
        test_layernorm_backend (backends[b], s);
        CHECK_OK (dae_stream_sync (s, &err), &err);
        fprintf (stderr, "  %.2f s\n", (g_get_monotonic_time () - t0) / 1e6);
      }
      g_unsetenv ("DIFFAE_VK_PROFILE");
    }
    dae_stream_free (s);
    dae_backend_unref (backends[b]);
  }
  for (int i = 0; i < MAX_CASES; i++)
    free (first_masks[i]);
  return dae_test_finish ("test_norm");
}
