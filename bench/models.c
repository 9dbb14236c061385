/* bench-models: times diffae's networks and DDIM loops on one backend and prints one JSON line
 * per measurement (bench/models.sh puts them next to PyTorch's).
 *
 *   bench-models MODEL --backend cpu|vulkan --what unet|encoder|decode|invert
 *                [--batch N] [--steps N] [--reps R] [--warmup W]
 *
 * unet / encoder: one forward pass of the network; decode / invert: a whole DDIM loop of
 * --steps steps. Reports the median and all repetitions in seconds, achieved GFLOP/s (from
 * the MAC count given with --gmac, per sample and pass), and the peak resident memory of the
 * process (on lavapipe device memory is host memory, so this includes it). */
#include "diffae.h"
#include "api/model_private.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct {
  const char *model, *what;
  DaeBackendKind backend;
  int batch, steps, reps, warmup;
  double gmac;                          /* per sample and network pass, for GFLOP/s */
} Args;

typedef struct {
  DaeModel *m;
  DaeSession *sess;
  DaeStream *s;
  DaeNetRun *run;
  DaeTensor *x, *y, *t, *z;
  float *host_img, *host_z, *out;
} Bench;

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static long
peak_rss_kib (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static int
parse (int argc, char **argv, Args * a)
{
  *a = (Args) {.what = "unet",.backend = DAE_BACKEND_CPU,.batch = 1,.steps = 10,.reps = 5,
    .warmup = 1
  };
  if (argc < 2)
    return -1;
  a->model = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp (k, "--backend") && !dae_backend_kind_parse (v, &a->backend))
      return -1;
    else if (!strcmp (k, "--what"))
      a->what = v;
    else if (!strcmp (k, "--batch"))
      a->batch = atoi (v);
    else if (!strcmp (k, "--steps"))
      a->steps = atoi (v);
    else if (!strcmp (k, "--reps"))
      a->reps = atoi (v);
    else if (!strcmp (k, "--warmup"))
      a->warmup = atoi (v);
    else if (!strcmp (k, "--gmac"))
      a->gmac = atof (v);
  }
  return a->batch > 0 && a->reps > 0 ? 0 : -1;
}

static DaeStatus
setup (Bench * b, const Args * a, DaeBackend * be, DaeError * err)
{
  if (dae_model_load (be, a->model, &b->m, err) || dae_session_new (b->m, &b->sess, err) ||
      dae_stream_new (be, &b->s, err))
    return err->code;
  const DaeModelConfig *c = &b->m->cfg;
  size_t img = (size_t) a->batch * c->in_channels * c->image_size * c->image_size;
  b->host_img = malloc (img * sizeof (float));
  b->out = malloc (img * sizeof (float));
  b->host_z = malloc ((size_t) a->batch * c->z_channels * sizeof (float));
  dae_gaussian_noise (1, 0, b->host_img, img);
  dae_gaussian_noise (1, 1, b->host_z, (size_t) a->batch * c->z_channels);
  bool enc = !strcmp (a->what, "encoder");
  if (strcmp (a->what, "unet") && !enc)
    return DAE_OK;                      /* the DDIM loops go through the session */
  if (dae_net_run_new (enc ? b->m->encoder : b->m->unet, a->batch, false, &b->run, err))
    return err->code;
  int n = a->batch, S = c->image_size;
  if (!(b->x = dae_tensor_new (be, n, c->in_channels, S, S, err)) ||
      !(b->y = dae_tensor_new (be, n, c->in_channels, S, S, err)) ||
      !(b->t = dae_tensor_new (be, n, 1, 1, 1, err)) ||
      !(b->z = dae_tensor_new (be, n, c->z_channels, 1, 1, err)))
    return err->code;
  float *t = calloc ((size_t) n, sizeof *t);
  for (int i = 0; i < n; i++)
    t[i] = 500.0f;
  dae_tensor_write (b->s, b->x, b->host_img);
  dae_tensor_write (b->s, b->t, t);
  dae_tensor_write (b->s, b->z, b->host_z);
  free (t);
  return dae_stream_sync (b->s, err);
}

static DaeStatus
run_once (Bench * b, const Args * a, DaeError * err)
{
  if (!strcmp (a->what, "unet")) {
    dae_unet_forward (b->run, b->s, b->y, b->x, b->t, b->z);
    return dae_stream_sync (b->s, err);
  }
  if (!strcmp (a->what, "encoder")) {
    dae_encoder_forward (b->run, b->s, b->z, b->x);
    return dae_stream_sync (b->s, err);
  }
  if (!strcmp (a->what, "decode"))
    return dae_decode (b->sess, a->batch, b->host_z, b->host_img, a->steps, b->out, err);
  if (!strcmp (a->what, "invert"))
    return dae_encode (b->sess, a->batch, b->host_img, b->host_z, a->steps, b->out, err);
  return dae_error_set (err, DAE_ERR_INVALID, "--what %s: unet, encoder, decode or invert",
      a->what);
}

/* Network passes per measurement: one, or one per DDIM step. */
static int
passes (const Args * a)
{
  return (!strcmp (a->what, "decode") || !strcmp (a->what, "invert")) ? a->steps : 1;
}

int
main (int argc, char **argv)
{
  Args a;
  if (parse (argc, argv, &a)) {
    fprintf (stderr, "usage: bench-models MODEL --backend cpu|vulkan --what "
        "unet|encoder|decode|invert [--batch N] [--steps N] [--reps R] [--gmac G]\n");
    return 2;
  }
  DaeError err = { 0 };
  DaeBackend *be = NULL;
  DaeBackendOptions bo = {.kind = a.backend };
  Bench b = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  if (dae_backend_open (&bo, &be, &err) || setup (&b, &a, be, &err)) {
    fprintf (stderr, "bench-models: %s\n", err.message);
    return 1;
  }
  double load_s = (g_get_monotonic_time () - t0) / 1e6;
  double *times = calloc ((size_t) a.reps, sizeof *times);
  for (int r = -a.warmup; r < a.reps; r++) {
    gint64 s0 = g_get_monotonic_time ();
    if (run_once (&b, &a, &err)) {
      fprintf (stderr, "bench-models: %s\n", err.message);
      return 1;
    }
    if (r >= 0)
      times[r] = (g_get_monotonic_time () - s0) / 1e6;
    if (r == -1)
      dae_profile_reset ();           /* the table covers the timed repetitions only */
  }
  GString *all = g_string_new (NULL);
  for (int r = 0; r < a.reps; r++)
    g_string_append_printf (all, "%s%.5f", r ? ", " : "", times[r]);
  qsort (times, (size_t) a.reps, sizeof *times, cmp_double);
  double median = times[a.reps / 2];
  double gflops = a.gmac > 0 ? 2.0 * a.gmac * a.batch * passes (&a) / median : 0;
  printf ("{\"impl\": \"diffae\", \"backend\": \"%s\", \"device\": \"%s\", \"what\": \"%s\", "
      "\"batch\": %d, \"steps\": %d, \"median_s\": %.5f, \"times_s\": [%s], "
      "\"gflops\": %.1f, \"peak_rss_mib\": %.0f, \"load_s\": %.2f}\n",
      dae_backend_kind_name (a.backend), dae_backend_description (be), a.what, a.batch,
      passes (&a), median, all->str, gflops, peak_rss_kib () / 1024.0, load_s);
  g_string_free (all, TRUE);
  if (dae_profile_enabled ())         /* DIFFAE_PROFILE=1: where the time goes, per op */
    dae_profile_report (stderr);
  free (times);
  return 0;
}
