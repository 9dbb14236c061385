/* Tests of the train op family: both backends against the double-precision reference, the
 * reference loss gradients against central finite differences, and Adam/AdamW against
 * PyTorch 1.13 itself (compute/tests/torch_adam.py, when /usr/bin/python3 has torch). */
#include "test_util.h"
#include "ref/ref_train.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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
  float *x = malloc (n * sizeof *x);
  dae_test_fill_uniform (r, x, n, lo, hi);
  return x;
}

/* ---- losses ----------------------------------------------------------------------------- */

typedef double (*RefLoss) (double *, const double *, const double *, size_t, double);
typedef void (*DaeLoss) (DaeStream *, const DaeTensor *, const DaeTensor *, const DaeTensor *,
    const DaeTensor *, float);

/* The reference gradient against central differences of the reference loss (double). */
static void
test_loss_finite_differences (const char *name, RefLoss ref)
{
  const size_t n = 13;
  DaeTestRng r;
  dae_test_rng_seed (&r, 11);
  double pred[13], target[13], grad[13] = { 0 };
  for (size_t i = 0; i < n; i++) {
    pred[i] = dae_test_uniform (&r, -1, 1);
    target[i] = dae_test_uniform (&r, -1, 1);
  }
  const double scale = 0.75, h = 1e-6;
  ref (grad, pred, target, n, scale);
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double keep = pred[i];
    pred[i] = keep + h;
    double up = ref (NULL, pred, target, n, 1.0);
    pred[i] = keep - h;
    double down = ref (NULL, pred, target, n, 1.0);
    pred[i] = keep;
    worst = fmax (worst, fabs (scale * (up - down) / (2 * h) - grad[i]));
  }
  fprintf (stderr, "  %s: reference gradient vs finite differences: max abs error %.2e\n",
      name, worst);
  CHECK (worst < 1e-8, "%s reference gradient is off by %g", name, worst);
}

static void
test_loss (DaeBackend * be, DaeStream * s, const char *name, DaeLoss op, RefLoss ref)
{
  const size_t sizes[] = { 1, 2, 63, 1000, 16385, 65537, 100003 };
  double worst_loss = 0, worst_grad = 0;
  for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++) {
    size_t n = sizes[k];
    DaeTestRng r;
    dae_test_rng_seed (&r, 100 + k);
    float *pred = random_floats (&r, n, -2, 2), *target = random_floats (&r, n, -2, 2);
    const float scale = 0.375f;
    /* dpred starts at values of the gradient's own size, so that both parts count. */
    float *dpred0 = random_floats (&r, n, -4.0f * scale / n, 4.0f * scale / n);
    for (size_t i = 0; i < n; i += 7)     /* exact ties: the L1 gradient must be 0 there */
      target[i] = pred[i];
    /* An odd shape with numel n. */
    DaeTensor *tp = dae_test_tensor (be, s, 1, 1, 1, (int) n, pred);
    DaeTensor *tt = dae_test_tensor (be, s, 1, 1, 1, (int) n, target);
    DaeTensor *td = dae_test_tensor (be, s, 1, 1, 1, (int) n, dpred0);
    float garbage = 1234.5f;
    DaeTensor *tl = dae_test_tensor (be, s, 1, 1, 1, 1, &garbage);
    DaeTensor *tl2 = dae_test_tensor (be, s, 1, 1, 1, 1, &garbage);
    op (s, tl, td, tp, tt, scale);
    op (s, tl2, NULL, tp, tt, scale);   /* no gradient wanted */
    float *loss = dae_test_read (s, tl), *loss2 = dae_test_read (s, tl2);
    float *dpred = dae_test_read (s, td);
    double *dp = to_double (pred, n), *dt = to_double (target, n), *dd = to_double (dpred0, n);
    double want = ref (dd, dp, dt, n, scale);
    double e = fabs (loss[0] - want) / fmax (fabs (want), 1e-30);
    worst_loss = fmax (worst_loss, e);
    CHECK (e < 1e-5, "%s on %zu elements: loss %.9g, reference %.9g", name, n, loss[0], want);
    CHECK (loss2[0] == loss[0], "%s on %zu elements: loss without dpred differs", name, n);
    double eg = dae_test_max_rel_error (dpred, dd, n, 1e-30);
    worst_grad = fmax (worst_grad, eg);
    CHECK (eg < 1e-5, "%s on %zu elements: dpred error %g", name, n, eg);
    /* Deterministic: the same input gives the same bits. */
    op (s, tl2, NULL, tp, tt, scale);
    float *loss3 = dae_test_read (s, tl2);
    CHECK (memcmp (loss3, loss, 4) == 0, "%s on %zu elements is not deterministic", name, n);
    free (loss);
    free (loss2);
    free (loss3);
    free (dpred);
    free (dp);
    free (dt);
    free (dd);
    free (pred);
    free (target);
    free (dpred0);
    dae_tensor_free (tp);
    dae_tensor_free (tt);
    dae_tensor_free (td);
    dae_tensor_free (tl);
    dae_tensor_free (tl2);
  }
  fprintf (stderr, "  %s: max rel error loss %.2e, dpred %.2e\n", name, worst_loss, worst_grad);
}

/* ---- gradient norm ---------------------------------------------------------------------- */

/* sumsq of five tensors into the slots of one (K) tensor, then clip factors from it. */
static void
test_sumsq_clip (DaeBackend * be, DaeStream * s)
{
  enum { K = 6 };
  const size_t sizes[K] = { 1, 100, 4097, 70001, 100003, 33 };
  DaeTestRng r;
  dae_test_rng_seed (&r, 7);
  DaeTensor *xs[K];
  double want[K];
  float garbage[K];
  for (int k = 0; k < K; k++) {
    float *x = random_floats (&r, sizes[k], -0.1f, 0.1f);
    double *xd = to_double (x, sizes[k]);
    want[k] = ref_sumsq (xd, sizes[k]);
    xs[k] = dae_test_tensor (be, s, 1, (int) sizes[k], 1, 1, x);
    garbage[k] = -99.0f;
    free (x);
    free (xd);
  }
  DaeTensor *slots = dae_test_tensor (be, s, 1, K, 1, 1, garbage);
  for (int k = 0; k < K; k++) {
    DaeTensor slot = dae_tensor_view_channels (slots, k, 1);
    dae_sumsq (s, &slot, xs[k]);
  }
  float *got = dae_test_read (s, slots);
  double worst = 0;
  for (int k = 0; k < K; k++) {
    double e = fabs (got[k] - want[k]) / want[k];
    worst = fmax (worst, e);
    CHECK (e < 1e-5, "sumsq of %zu elements: %.9g, reference %.9g", sizes[k], got[k], want[k]);
  }
  /* Deterministic run to run. */
  DaeTensor slot3 = dae_tensor_view_channels (slots, 3, 1);
  dae_sumsq (s, &slot3, xs[3]);
  float *again = dae_test_read (s, slots);
  CHECK (memcmp (again, got, sizeof (float) * K) == 0, "sumsq is not deterministic");
  fprintf (stderr, "  sumsq: max rel error %.2e\n", worst);

  /* Clip factors: total norm is about 10; 1.0 clips, 100 does not. */
  const float norms[] = { 1.0f, 100.0f, 3.5f };
  for (size_t i = 0; i < G_N_ELEMENTS (norms); i++) {
    float g = 5.0f;
    DaeTensor *factor = dae_test_tensor (be, s, 1, 1, 1, 1, &g);
    dae_clip_factor (s, factor, slots, norms[i]);
    float *f = dae_test_read (s, factor);
    double gotd[K];
    for (int k = 0; k < K; k++)
      gotd[k] = got[k];
    double fw = ref_clip_factor (gotd, K, norms[i]);
    CHECK (fabs (f[0] - fw) <= 1e-6 * fw, "clip factor for max_norm %g: %.9g, reference %.9g",
        norms[i], f[0], fw);
    if (i == 1)
      CHECK (f[0] == 1.0f, "clip factor not 1 when the norm is below max_norm: %g", f[0]);
    free (f);
    dae_tensor_free (factor);
  }
  free (got);
  free (again);
  for (int k = 0; k < K; k++)
    dae_tensor_free (xs[k]);
  dae_tensor_free (slots);
}

/* ---- Adam and EMA ----------------------------------------------------------------------- */

typedef struct {
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  float grad_scale;             /* 0: no grad_scale tensor */
} AdamCase;

static const AdamCase adam_cases[] = {
  {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, false, 0.0f},
  {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, false, 0.37f},
  {2e-3f, 0.8f, 0.99f, 1e-6f, 0.1f, true, 0.0f},
  {1e-4f, 0.9f, 0.999f, 1e-8f, 0.05f, true, 0.61f},
};

#define ADAM_N 1003
#define ADAM_STEPS 6

/* Runs the steps of one case on a backend; writes the final param, m, v (3 * ADAM_N). */
static void
run_adam (DaeBackend * be, DaeStream * s, const AdamCase * c, const float *p0,
    const float *grads, float *out)
{
  DaeTensor *p = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, p0);
  DaeTensor *g = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, NULL);
  DaeTensor *m = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, NULL);
  DaeTensor *v = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, NULL);
  DaeTensor *scale = c->grad_scale ? dae_test_tensor (be, s, 1, 1, 1, 1, &c->grad_scale) : NULL;
  for (int step = 1; step <= ADAM_STEPS; step++) {
    dae_tensor_write (s, g, grads + (size_t) (step - 1) * ADAM_N);
    DaeAdamArgs a = {
      .lr = c->lr,.beta1 = c->beta1,.beta2 = c->beta2,.eps = c->eps,
      .weight_decay = c->weight_decay,.decoupled = c->decoupled,.step = step,
      .grad_scale = scale,
    };
    dae_adam_update (s, p, g, m, v, &a);
  }
  DaeError err = { 0 };
  CHECK_OK (dae_tensor_read (s, p, out, &err), &err);
  CHECK_OK (dae_tensor_read (s, m, out + ADAM_N, &err), &err);
  CHECK_OK (dae_tensor_read (s, v, out + 2 * ADAM_N, &err), &err);
  dae_tensor_free (p);
  dae_tensor_free (g);
  dae_tensor_free (m);
  dae_tensor_free (v);
  dae_tensor_free (scale);
}

/* How far got is from want (results of the same steps): the parameter's absolute error in
 * units of FLT_EPSILON * max |p| (one ulp at the largest parameter's binade top; float
 * storage rounds p at each step, so a few are expected whatever the arithmetic), the same error relative to the largest change (a
 * wrong step size shows there), and m and v relative to their largest magnitudes. */
typedef struct {
  double p_ulps, p_change, m, v;
} AdamError;

static AdamError
adam_error (const float *got, const double *want, const float *p0)
{
  double maxchange = 0, maxp = 0, perr = 0;
  for (int i = 0; i < ADAM_N; i++) {
    maxchange = fmax (maxchange, fabs (want[i] - p0[i]));
    maxp = fmax (maxp, fabs (want[i]));
    perr = fmax (perr, fabs ((double) got[i] - want[i]));
  }
  AdamError e = {
    .p_ulps = perr / (maxp * FLT_EPSILON),
    .p_change = perr / maxchange,
    .m = dae_test_max_rel_error (got + ADAM_N, want + ADAM_N, ADAM_N, 1e-30),
    .v = dae_test_max_rel_error (got + 2 * ADAM_N, want + 2 * ADAM_N, ADAM_N, 1e-30),
  };
  return e;
}

static void
adam_reference (const AdamCase * c, const float *p0, const float *grads, double *out)
{
  double *p = out, *m = out + ADAM_N, *v = out + 2 * ADAM_N;
  for (int i = 0; i < ADAM_N; i++) {
    p[i] = p0[i];
    m[i] = v[i] = 0;
  }
  for (int step = 1; step <= ADAM_STEPS; step++) {
    RefAdamArgs a = {
      .lr = c->lr,.beta1 = c->beta1,.beta2 = c->beta2,.eps = c->eps,
      .weight_decay = c->weight_decay,.decoupled = c->decoupled,.step = step,
      .grad_scale = c->grad_scale ? c->grad_scale : 1.0,
    };
    double *g = to_double (grads + (size_t) (step - 1) * ADAM_N, ADAM_N);
    ref_adam_update (p, g, m, v, ADAM_N, &a);
    free (g);
  }
}

static void
adam_data (float *p0, float *grads)
{
  DaeTestRng r;
  dae_test_rng_seed (&r, 21);
  dae_test_fill_uniform (&r, p0, ADAM_N, -1, 1);
  /* Gradients of mixed magnitudes, some exactly zero (v stays tiny: eps matters). */
  for (size_t i = 0; i < (size_t) ADAM_STEPS * ADAM_N; i++) {
    float u = dae_test_uniform (&r, -1, 1);
    grads[i] = (i % 97 == 0) ? 0.0f : u * (i % 3 == 0 ? 1e-3f : 1.0f);
  }
}

static void
test_adam (DaeBackend * be, DaeStream * s)
{
  float *p0 = malloc (ADAM_N * sizeof *p0), *grads = malloc (ADAM_STEPS * ADAM_N * 4);
  adam_data (p0, grads);
  float got[3 * ADAM_N];
  double want[3 * ADAM_N];
  for (size_t k = 0; k < G_N_ELEMENTS (adam_cases); k++) {
    run_adam (be, s, &adam_cases[k], p0, grads, got);
    adam_reference (&adam_cases[k], p0, grads, want);
    AdamError e = adam_error (got, want, p0);
    char scale[32] = "none";
    if (adam_cases[k].grad_scale)
      g_snprintf (scale, sizeof scale, "%g", adam_cases[k].grad_scale);
    fprintf (stderr, "  adam case %zu (%s, lr %g, wd %g, grad_scale %s), %d steps: param "
        "error %.1f ulps (%.1e of the change), m %.1e, v %.1e\n", k,
        adam_cases[k].decoupled ? "AdamW" : "Adam", adam_cases[k].lr,
        adam_cases[k].weight_decay, scale, ADAM_STEPS, e.p_ulps, e.p_change, e.m, e.v);
    /* Each step rounds p once or twice in float. */
    CHECK (e.p_ulps < 2 * ADAM_STEPS && e.p_change < 1e-3 && e.m < 1e-5 && e.v < 1e-5,
        "adam case %zu: too far from the double reference", k);
  }
  free (p0);
  free (grads);
}

/* The clip factor computed on the device feeds Adam's grad_scale with no host round trip. */
static void
test_adam_with_device_clip (DaeBackend * be, DaeStream * s)
{
  DaeTestRng r;
  dae_test_rng_seed (&r, 5);
  float *p0 = random_floats (&r, ADAM_N, -1, 1), *g0 = random_floats (&r, ADAM_N, -3, 3);
  DaeTensor *p = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, p0);
  DaeTensor *g = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, g0);
  DaeTensor *m = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, NULL);
  DaeTensor *v = dae_test_tensor (be, s, 1, ADAM_N, 1, 1, NULL);
  DaeTensor *sq = dae_test_tensor (be, s, 1, 1, 1, 1, NULL);
  DaeTensor *factor = dae_test_tensor (be, s, 1, 1, 1, 1, NULL);
  dae_sumsq (s, sq, g);
  dae_clip_factor (s, factor, sq, 1.0f);
  DaeAdamArgs a = {.lr = 1e-2f,.beta1 = 0.9f,.beta2 = 0.999f,.eps = 1e-8f,.step = 1,
    .grad_scale = factor
  };
  dae_adam_update (s, p, g, m, v, &a);
  float *mp = dae_test_read (s, m);
  double *gd = to_double (g0, ADAM_N);
  double f = ref_clip_factor ((double[]) { ref_sumsq (gd, ADAM_N)}, 1, 1.0);
  double worst = 0;
  for (int i = 0; i < ADAM_N; i++)
    worst = fmax (worst, fabs (mp[i] - 0.1 * f * g0[i]) / (0.1 * f * 3.0));
  CHECK (worst < 1e-5, "adam with the device clip factor: m error %g", worst);
  free (mp);
  free (gd);
  free (p0);
  free (g0);
  dae_tensor_free (p);
  dae_tensor_free (g);
  dae_tensor_free (m);
  dae_tensor_free (v);
  dae_tensor_free (sq);
  dae_tensor_free (factor);
}

static void
test_ema (DaeBackend * be, DaeStream * s)
{
  const size_t n = 4099;
  const float decays[] = { 0.9999f, 0.5f, 0.0f };
  DaeTestRng r;
  dae_test_rng_seed (&r, 9);
  float *e0 = random_floats (&r, n, -1, 1), *p = random_floats (&r, n, -1, 1);
  for (size_t k = 0; k < G_N_ELEMENTS (decays); k++) {
    DaeTensor *te = dae_test_tensor (be, s, 1, 1, 1, (int) n, e0);
    DaeTensor *tp = dae_test_tensor (be, s, 1, 1, 1, (int) n, p);
    dae_ema_update (s, te, tp, decays[k]);
    dae_ema_update (s, te, tp, decays[k]);
    float *got = dae_test_read (s, te);
    double *want = to_double (e0, n), *pd = to_double (p, n);
    ref_ema_update (want, pd, n, decays[k]);
    ref_ema_update (want, pd, n, decays[k]);
    double e = dae_test_max_rel_error (got, want, n, 1e-30);
    CHECK (e < 1e-6, "ema decay %g: error %g", decays[k], e);
    free (got);
    free (want);
    free (pd);
    dae_tensor_free (te);
    dae_tensor_free (tp);
  }
  free (e0);
  free (p);
}

/* ---- PyTorch cross-check ---------------------------------------------------------------- */

/* compute/tests/torch_adam.py, found from this source file's path (relative to the build
 * directory, where meson runs tests, or to the executable's build directory). */
static char *
find_torch_script (void)
{
  char *dir = g_path_get_dirname (__FILE__);
  char *candidates[2] = { g_build_filename (dir, "torch_adam.py", NULL), NULL };
  char *exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe) {
    char *exedir = g_path_get_dirname (exe);
    candidates[1] = g_build_filename (exedir, "..", "..", dir, "torch_adam.py", NULL);
    g_free (exedir);
    g_free (exe);
  }
  char *found = NULL;
  for (int i = 0; i < 2 && !found; i++)
    if (candidates[i] && g_file_test (candidates[i], G_FILE_TEST_IS_REGULAR))
      found = g_strdup (candidates[i]);
  g_free (candidates[0]);
  g_free (candidates[1]);
  g_free (dir);
  return found;
}

/* Runs every Adam case through torch.optim.Adam/AdamW; returns param, m, v per case (float)
 * or NULL when PyTorch is not available. */
static float *
torch_adam (const float *p0, const float *grads)
{
  const int ncases = G_N_ELEMENTS (adam_cases);
  char *script = find_torch_script ();
  if (!script || !g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)) {
    fprintf (stderr, "  SKIP PyTorch cross-check: %s not found\n",
        script ? "/usr/bin/python3" : "torch_adam.py");
    g_free (script);
    return NULL;
  }
  char *dir = g_dir_make_tmp ("diffae-adam-XXXXXX", NULL);
  char *in = g_build_filename (dir, "in.bin", NULL), *outp = g_build_filename (dir, "out.bin",
      NULL);
  GByteArray *buf = g_byte_array_new ();
  int32_t hdr[3] = { ADAM_N, ADAM_STEPS, ncases };
  g_byte_array_append (buf, (guint8 *) hdr, sizeof hdr);
  for (int k = 0; k < ncases; k++) {
    const AdamCase *c = &adam_cases[k];
    float row[7] = { c->lr, c->beta1, c->beta2, c->eps, c->weight_decay, c->decoupled,
      c->grad_scale
    };
    g_byte_array_append (buf, (guint8 *) row, sizeof row);
  }
  g_byte_array_append (buf, (const guint8 *) p0, ADAM_N * 4);
  g_byte_array_append (buf, (const guint8 *) grads, ADAM_STEPS * ADAM_N * 4);
  g_file_set_contents (in, (const char *) buf->data, buf->len, NULL);
  g_byte_array_free (buf, TRUE);

  char *argv[] = { "/usr/bin/python3", script, in, outp, NULL };
  char *errout = NULL;
  int status = 0;
  GError *gerr = NULL;
  float *result = NULL;
  gboolean ran = g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
      &errout, &status, &gerr);
  gchar *data = NULL;
  gsize len = 0;
  if (!ran) {
    CHECK (false, "running %s: %s", script, gerr->message);
    g_clear_error (&gerr);
  } else if (WIFEXITED (status) && WEXITSTATUS (status) == 77) {
    fprintf (stderr, "  SKIP PyTorch cross-check: %s", errout);
  } else if (!g_spawn_check_wait_status (status, NULL) ||
      !g_file_get_contents (outp, &data, &len, NULL) ||
      len != (gsize) ncases * 3 * ADAM_N * 4) {
    CHECK (false, "%s failed: %s", script, errout);
  } else {
    result = (float *) data;
    data = NULL;
  }
  g_free (data);
  g_free (errout);
  g_unlink (in);
  g_unlink (outp);
  g_rmdir (dir);
  g_free (in);
  g_free (outp);
  g_free (dir);
  g_free (script);
  return result;
}

static void
test_adam_vs_torch (DaeBackend ** bes, int nbes, DaeStream ** streams)
{
  float *p0 = malloc (ADAM_N * sizeof *p0), *grads = malloc (ADAM_STEPS * ADAM_N * 4);
  adam_data (p0, grads);
  gint64 t0 = g_get_monotonic_time ();
  float *torch = torch_adam (p0, grads);
  if (torch)
    fprintf (stderr, "PyTorch Adam cross-check (%.1f s in python):\n",
        (g_get_monotonic_time () - t0) * 1e-6);
  for (int b = 0; torch && b < nbes; b++) {
    for (size_t k = 0; k < G_N_ELEMENTS (adam_cases); k++) {
      float got[3 * ADAM_N];
      double want[3 * ADAM_N];
      run_adam (bes[b], streams[b], &adam_cases[k], p0, grads, got);
      for (int i = 0; i < 3 * ADAM_N; i++)
        want[i] = torch[k * 3 * ADAM_N + i];
      AdamError e = adam_error (got, want, p0);
      fprintf (stderr, "  %s, case %zu: param %.1f ulps, m %.1e, v %.1e from torch\n",
          dae_backend_kind_name (dae_backend_kind (bes[b])), k, e.p_ulps, e.m, e.v);
      /* float against float with the same order of operations: an ulp or two apart (FMA
       * contraction may differ). */
      CHECK (e.p_ulps <= 2 && e.m < 1e-6 && e.v < 1e-6,
          "adam case %zu differs from torch.optim", k);
    }
  }
  free (torch);
  free (p0);
  free (grads);
}

int
main (void)
{
  test_loss_finite_differences ("mse_loss", ref_mse_loss);
  test_loss_finite_differences ("l1_loss", ref_l1_loss);
  DaeBackend *bes[4];
  DaeStream *streams[4] = { 0 };
  int n = dae_test_open_backends (bes, 4);
  for (int i = 0; i < n; i++) {
    DaeError err = { 0 };
    if (!CHECK_OK (dae_stream_new (bes[i], &streams[i], &err), &err))
      return dae_test_finish ("test_train");
    gint64 t0 = g_get_monotonic_time ();
    fprintf (stderr, "%s:\n", dae_backend_description (bes[i]));
    test_loss (bes[i], streams[i], "mse_loss", dae_mse_loss, ref_mse_loss);
    test_loss (bes[i], streams[i], "l1_loss", dae_l1_loss, ref_l1_loss);
    test_sumsq_clip (bes[i], streams[i]);
    test_adam (bes[i], streams[i]);
    test_adam_with_device_clip (bes[i], streams[i]);
    test_ema (bes[i], streams[i]);
    CHECK_OK (dae_stream_sync (streams[i], &err), &err);
    fprintf (stderr, "  (%.2f s)\n", (g_get_monotonic_time () - t0) * 1e-6);
  }
  test_adam_vs_torch (bes, n, streams);
  for (int i = 0; i < n; i++) {
    dae_stream_free (streams[i]);
    dae_backend_unref (bes[i]);
  }
  return dae_test_finish ("test_train");
}
