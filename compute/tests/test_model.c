/* Parity of the networks, the DDIM loops and the latent sampler with the PyTorch reference
 * (tools/reference), on every backend of $DIFFAE_TEST_BACKENDS.
 *
 *   test_model DIR [--grads]
 *
 * DIR holds model.safetensors and fixture.safetensors from tools/reference/make_fixture.py.
 * Errors are measured as max |diffae - torch| / max |torch| per tensor, and must be below
 * 1e-3 (the bound). With --grads the backward passes are compared too: every parameter
 * gradient of a scalar loss, against PyTorch's autograd. */
#include "test_util.h"
#include "api/model_private.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOLERANCE 1e-3

typedef struct {
  DaeSafetensors *st;
  const char *dir;
} Fixture;

/* A fixture tensor as floats (malloc'd), or NULL when absent. */
static float *
fx (Fixture * f, const char *name, size_t * count)
{
  const DaeSafetensorsTensor *t = dae_safetensors_find (f->st, name);
  if (!t)
    return NULL;
  float *out = malloc (t->numel * sizeof *out + 4);
  dae_safetensors_tensor_to_f32 (t, out);
  if (count)
    *count = t->numel;
  return out;
}

static float *
fx_required (Fixture * f, const char *name, size_t * count)
{
  float *v = fx (f, name, count);
  if (!v) {
    fprintf (stderr, "FATAL: fixture %s/fixture.safetensors has no tensor %s\n", f->dir, name);
    exit (1);
  }
  return v;
}

static double
rel_error (const float *got, const float *want, size_t n, double floor)
{
  double maxref = floor, maxdiff = 0;
  for (size_t i = 0; i < n; i++) {
    maxref = fmax (maxref, fabs (want[i]));
    double d = fabs ((double) got[i] - want[i]);
    maxdiff = isnan (d) ? INFINITY : fmax (maxdiff, d);
  }
  return maxdiff / maxref;
}

static void
compare (const char *what, const char *backend, const float *got, const float *want, size_t n,
    double floor)
{
  double e = rel_error (got, want, n, floor);
  fprintf (stderr, "  %-8s %-34s rel error %.2e\n", backend, what, e);
  CHECK (e < TOLERANCE, "%s on %s: relative error %.3g >= %g", what, backend, e, TOLERANCE);
}

static DaeTensor *
upload (DaeBackend * be, DaeStream * s, const float *data, int n, int c, int h, int w)
{
  return dae_test_tensor (be, s, n, c, h, w, data);
}

/* ---- forward parity ------------------------------------------------------------------------ */

static void
check_encoder_and_unet (Fixture * f, DaeModel * m, const char *bn)
{
  const DaeModelConfig *cfg = &m->cfg;
  int C = cfg->in_channels, S = cfg->image_size, Z = cfg->z_channels;
  DaeSession *sess = NULL;
  DaeError err = { 0 };
  if (!CHECK_OK (dae_session_new (m, &sess, &err), &err))
    return;
  size_t nz;
  float *x0 = fx_required (f, "enc.x0", NULL), *z_want = fx_required (f, "enc.z", &nz);
  float *z = malloc (nz * sizeof *z);
  if (CHECK_OK (dae_encode (sess, 2, x0, z, 0, NULL, &err), &err))
    compare ("encoder z_sem", bn, z, z_want, nz, 1e-6);

  /* The UNet alone, through a run of the network. */
  DaeNetRun *run = NULL;
  DaeStream *s = NULL;
  dae_stream_new (m->be, &s, &err);
  if (CHECK_OK (dae_net_run_new (m->unet, 2, false, &run, &err), &err)) {
    size_t ne;
    float *xt = fx_required (f, "unet.x_t", NULL), *t = fx_required (f, "unet.t", NULL);
    float *zs = fx_required (f, "unet.z_sem", NULL), *eps_want = fx_required (f, "unet.eps", &ne);
    DaeTensor *txt = upload (m->be, s, xt, 2, C, S, S), *tt = upload (m->be, s, t, 2, 1, 1, 1);
    DaeTensor *tz = upload (m->be, s, zs, 2, Z, 1, 1), *te = upload (m->be, s, NULL, 2, C, S, S);
    dae_unet_forward (run, s, te, txt, tt, tz);
    float *eps = dae_test_read (s, te);
    compare ("unet eps (t = 3, 517)", bn, eps, eps_want, ne, 1e-6);
    free (eps);
    free (xt);
    free (t);
    free (zs);
    free (eps_want);
    dae_tensor_free (txt);
    dae_tensor_free (tt);
    dae_tensor_free (tz);
    dae_tensor_free (te);
    dae_net_run_free (run);
  }
  dae_stream_free (s);
  free (x0);
  free (z_want);
  free (z);
  dae_session_free (sess);
}

static void
check_ddim (Fixture * f, DaeModel * m, const char *bn, int steps)
{
  DaeSession *sess = NULL;
  DaeError err = { 0 };
  if (!CHECK_OK (dae_session_new (m, &sess, &err), &err))
    return;
  size_t nx, nz;
  float *z = fx_required (f, "ddim.z_sem", NULL), *xT = fx_required (f, "ddim.x_T", &nx);
  float *want = fx_required (f, "ddim.x0", NULL), *got = malloc (nx * sizeof *got);
  if (CHECK_OK (dae_decode (sess, 2, z, xT, steps, got, &err), &err))
    compare ("DDIM decode", bn, got, want, nx, 1e-6);
  float *inv_x0 = fx_required (f, "invert.x0", NULL);
  float *inv_z = fx_required (f, "invert.z_sem", &nz), *inv_xT = fx_required (f, "invert.x_T",
      NULL);
  float *z_got = malloc (nz * sizeof *z_got);
  if (CHECK_OK (dae_encode (sess, 2, inv_x0, z_got, steps, got, &err), &err)) {
    compare ("inversion z_sem", bn, z_got, inv_z, nz, 1e-6);
    compare ("inversion x_T", bn, got, inv_xT, nx, 1e-6);
  }
  free (z);
  free (xT);
  free (want);
  free (got);
  free (inv_x0);
  free (inv_z);
  free (inv_xT);
  free (z_got);
  dae_session_free (sess);
}

static void
check_latent (Fixture * f, DaeModel * m, const char *bn, int steps)
{
  if (!m->latent)
    return;
  DaeError err = { 0 };
  DaeStream *s = NULL;
  DaeNetRun *run = NULL;
  int Z = m->cfg.z_channels;
  dae_stream_new (m->be, &s, &err);
  if (CHECK_OK (dae_net_run_new (m->latent, 2, false, &run, &err), &err)) {
    size_t n;
    float *zt = fx_required (f, "latent.z_t", NULL), *t = fx_required (f, "latent.t", NULL);
    float *want = fx_required (f, "latent.out", &n);
    DaeTensor *tz = upload (m->be, s, zt, 2, Z, 1, 1), *tt = upload (m->be, s, t, 2, 1, 1, 1);
    DaeTensor *te = upload (m->be, s, NULL, 2, Z, 1, 1);
    dae_latent_forward (run, s, te, tz, tt);
    float *got = dae_test_read (s, te);
    compare ("latent net", bn, got, want, n, 1e-6);
    free (got);
    free (zt);
    free (t);
    free (want);
    dae_tensor_free (tz);
    dae_tensor_free (tt);
    dae_tensor_free (te);
    dae_net_run_free (run);
  }
  dae_stream_free (s);

  DaeSession *sess = NULL;
  if (!CHECK_OK (dae_session_new (m, &sess, &err), &err))
    return;
  size_t n;
  float *noise = fx_required (f, "latent_sample.noise", NULL);
  float *want = fx_required (f, "latent_sample.z", &n), *got = malloc (n * sizeof *got);
  if (CHECK_OK (dae_sample_z_from_noise (sess, 2, steps, noise, got, &err), &err))
    compare ("latent DDIM sample", bn, got, want, n, 1e-6);
  free (noise);
  free (want);
  free (got);
  dae_session_free (sess);
}

/* ---- backward parity ----------------------------------------------------------------------- */

/* Compares every parameter gradient of net with the fixture's grad.<name>. A gradient that is
 * zero in exact arithmetic (the key bias of attention; conv biases before a GroupNorm of one
 * channel per group) is measured against the network's largest gradient instead of its own. */
static void
compare_param_grads (Fixture * f, DaeNet * net, DaeStream * s, DaeTensor * grads,
    const char *bn)
{
  const DaeParamLayout *l = dae_net_layout (net);
  float *all = dae_test_read (s, grads);
  double net_max = 0;
  for (size_t i = 0; i < l->total; i++)
    net_max = fmax (net_max, fabs (all[i]));
  double worst = 0;
  const char *worst_name = "";
  for (int i = 0; i < l->count; i++) {
    char name[300];
    g_snprintf (name, sizeof name, "grad.%s", l->names[i]);
    size_t n;
    float *want = fx (f, name, &n);
    if (!want) {
      CHECK (false, "fixture lacks %s", name);
      continue;
    }
    double e = rel_error (all + l->offset[i], want, n, 1e-3 * net_max);
    if (e > worst) {
      worst = e;
      worst_name = l->names[i];
    }
    CHECK (e < TOLERANCE, "gradient of %s on %s: relative error %.3g", l->names[i], bn, e);
    free (want);
  }
  fprintf (stderr, "  %-8s %d parameter gradients, worst rel error %.2e (%s)\n", bn, l->count,
      worst, worst_name);
  free (all);
}

static void
check_unet_grads (Fixture * f, DaeModel * m, const char *bn)
{
  const DaeModelConfig *cfg = &m->cfg;
  int C = cfg->in_channels, S = cfg->image_size, Z = cfg->z_channels;
  DaeError err = { 0 };
  DaeStream *s = NULL;
  DaeNetRun *run = NULL;
  dae_stream_new (m->be, &s, &err);
  if (!CHECK_OK (dae_net_run_new (m->unet, 2, true, &run, &err), &err)) {
    dae_stream_free (s);
    return;
  }
  dae_net_run_set_dropout (run, 0.0f);  /* the reference gradients are in evaluation mode */
  float *xt = fx_required (f, "unet.x_t", NULL), *t = fx_required (f, "unet.t", NULL);
  float *zs = fx_required (f, "unet.z_sem", NULL), *g = fx_required (f, "unet.loss_weight", NULL);
  DaeTensor *txt = upload (m->be, s, xt, 2, C, S, S), *tt = upload (m->be, s, t, 2, 1, 1, 1);
  DaeTensor *tz = upload (m->be, s, zs, 2, Z, 1, 1), *te = upload (m->be, s, NULL, 2, C, S, S);
  DaeTensor *tg = upload (m->be, s, g, 2, C, S, S);
  DaeTensor *dx = upload (m->be, s, NULL, 2, C, S, S), *dz = upload (m->be, s, NULL, 2, Z, 1, 1);
  dae_unet_forward (run, s, te, txt, tt, tz);
  dae_net_run_zero_grad (run, s);
  dae_unet_backward (run, s, tg, dx, dz);   /* L = sum(eps * g): dL/deps = g */
  compare_param_grads (f, m->unet, s, dae_net_run_grads (run), bn);
  size_t n;
  float *want = fx_required (f, "unet.grad_x_t", &n), *got = dae_test_read (s, dx);
  compare ("unet dL/dx_t", bn, got, want, n, 1e-6);
  free (want);
  free (got);
  want = fx_required (f, "unet.grad_z_sem", &n);
  got = dae_test_read (s, dz);
  compare ("unet dL/dz_sem", bn, got, want, n, 1e-6);
  free (want);
  free (got);
  free (xt);
  free (t);
  free (zs);
  free (g);
  DaeTensor *ts[] = { txt, tt, tz, te, tg, dx, dz };
  for (size_t i = 0; i < G_N_ELEMENTS (ts); i++)
    dae_tensor_free (ts[i]);
  dae_net_run_free (run);
  dae_stream_free (s);
}

static void
check_encoder_grads (Fixture * f, DaeModel * m, const char *bn)
{
  const DaeModelConfig *cfg = &m->cfg;
  int C = cfg->in_channels, S = cfg->image_size, Z = cfg->z_channels;
  DaeError err = { 0 };
  DaeStream *s = NULL;
  DaeNetRun *run = NULL;
  dae_stream_new (m->be, &s, &err);
  if (!CHECK_OK (dae_net_run_new (m->encoder, 2, true, &run, &err), &err)) {
    dae_stream_free (s);
    return;
  }
  float *x0 = fx_required (f, "enc.x0", NULL), *g = fx_required (f, "enc.loss_weight", NULL);
  DaeTensor *tx = upload (m->be, s, x0, 2, C, S, S), *tz = upload (m->be, s, NULL, 2, Z, 1, 1);
  DaeTensor *tg = upload (m->be, s, g, 2, Z, 1, 1), *dx = upload (m->be, s, NULL, 2, C, S, S);
  dae_encoder_forward (run, s, tz, tx);
  dae_net_run_zero_grad (run, s);
  dae_encoder_backward (run, s, tg, dx);
  compare_param_grads (f, m->encoder, s, dae_net_run_grads (run), bn);
  size_t n;
  float *want = fx_required (f, "enc.grad_x0", &n), *got = dae_test_read (s, dx);
  compare ("encoder dL/dx0", bn, got, want, n, 1e-6);
  free (want);
  free (got);
  free (x0);
  free (g);
  dae_tensor_free (tx);
  dae_tensor_free (tz);
  dae_tensor_free (tg);
  dae_tensor_free (dx);
  dae_net_run_free (run);
  dae_stream_free (s);
}

static void
check_latent_grads (Fixture * f, DaeModel * m, const char *bn)
{
  if (!m->latent || !dae_safetensors_find (f->st, "latent.loss_weight"))
    return;
  int Z = m->cfg.z_channels;
  DaeError err = { 0 };
  DaeStream *s = NULL;
  DaeNetRun *run = NULL;
  dae_stream_new (m->be, &s, &err);
  if (!CHECK_OK (dae_net_run_new (m->latent, 2, true, &run, &err), &err)) {
    dae_stream_free (s);
    return;
  }
  float *zt = fx_required (f, "latent.z_t", NULL), *t = fx_required (f, "latent.t", NULL);
  float *g = fx_required (f, "latent.loss_weight", NULL);
  DaeTensor *tz = upload (m->be, s, zt, 2, Z, 1, 1), *tt = upload (m->be, s, t, 2, 1, 1, 1);
  DaeTensor *te = upload (m->be, s, NULL, 2, Z, 1, 1), *tg = upload (m->be, s, g, 2, Z, 1, 1);
  dae_latent_forward (run, s, te, tz, tt);
  dae_net_run_zero_grad (run, s);
  dae_latent_backward (run, s, tg, NULL);
  compare_param_grads (f, m->latent, s, dae_net_run_grads (run), bn);
  free (zt);
  free (t);
  free (g);
  dae_tensor_free (tz);
  dae_tensor_free (tt);
  dae_tensor_free (te);
  dae_tensor_free (tg);
  dae_net_run_free (run);
  dae_stream_free (s);
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: test_model FIXTURE_DIR [--grads]\n");
    return 2;
  }
  bool grads = argc > 2 && strcmp (argv[2], "--grads") == 0;
  Fixture f = {.dir = argv[1] };
  char *model_path = g_build_filename (argv[1], "model.safetensors", NULL);
  char *fixture_path = g_build_filename (argv[1], "fixture.safetensors", NULL);
  DaeError err = { 0 };
  if (!CHECK_OK (dae_safetensors_open (fixture_path, &f.st, &err), &err))
    return dae_test_finish ("test_model");
  int steps = atoi (dae_safetensors_metadata (f.st, "fixture.steps") ?
      dae_safetensors_metadata (f.st, "fixture.steps") : "10");
  DaeBackend *bes[4];
  int nb = dae_test_open_backends (bes, 4);
  for (int i = 0; i < nb; i++) {
    const char *bn = dae_backend_kind_name (dae_backend_kind (bes[i]));
    DaeModel *m = NULL;
    dae_error_clear (&err);
    if (CHECK_OK (dae_model_load (bes[i], model_path, &m, &err), &err)) {
      fprintf (stderr, "%s: %s (%zu parameters)\n", bn, model_path, m->parameters);
      check_encoder_and_unet (&f, m, bn);
      check_latent (&f, m, bn, steps);
      check_ddim (&f, m, bn, steps);
      if (grads) {
        check_unet_grads (&f, m, bn);
        check_encoder_grads (&f, m, bn);
        check_latent_grads (&f, m, bn);
      }
      dae_model_unref (m);
    }
    dae_backend_unref (bes[i]);
  }
  dae_safetensors_close (f.st);
  g_free (model_path);
  g_free (fixture_path);
  return dae_test_finish ("test_model");
}
