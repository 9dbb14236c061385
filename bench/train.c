/* bench-train: images/s of a training step (forward, backward, clipping, Adam, EMA) of the
 * autoencoder on the backend of $DIFFAE_BACKEND. Not a test; bench/train.sh runs it next to
 * PyTorch (bench/train_torch.py) and prints the table of doc/performance.md.
 *
 *   bench-train CONFIG BATCH [STEPS] [WARMUP]     CONFIG: a preset name or a JSON file
 *
 * Prints one JSON line: backend, config, batch, steps, ms per step, images/s; with
 * DIFFAE_PROFILE=1 also the per-op time table (on stderr). */
#include "diffae.h"
#include "model/config.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static int
fail (const DaeError * err)
{
  fprintf (stderr, "bench-train: %s\n", err->message);
  return 1;
}

/* A preset name stays a name; a file's JSON is read. */
static char *
config_text (const char *arg, DaeModelConfig * cfg, DaeError * err)
{
  char *text = NULL;
  if (!g_file_get_contents (arg, &text, NULL, NULL))
    text = g_strdup (arg);
  g_strstrip (text);
  DaeStatus st = text[0] == '{' ? dae_model_config_from_json (text, cfg, err) :
      dae_model_config_preset (text, cfg, err);
  if (st != DAE_OK)
    g_clear_pointer (&text, g_free);
  return text;
}

int
main (int argc, char **argv)
{
  if (argc < 3) {
    fprintf (stderr, "usage: bench-train CONFIG BATCH [STEPS] [WARMUP]\n");
    return 2;
  }
  int batch = atoi (argv[2]), steps = argc > 3 ? atoi (argv[3]) : 10;
  int warmup = argc > 4 ? atoi (argv[4]) : 2;
  DaeBackendOptions bo = { 0 };
  DaeBackend *be = NULL;
  DaeTrainer *t = NULL;
  DaeError err = { 0 };
  DaeModelConfig cfg;
  DaeTrainOptions o;
  dae_train_options_default (&o);
  char *text = config_text (argv[1], &cfg, &err);
  if (!text || dae_backend_open (&bo, &be, &err) != DAE_OK ||
      dae_trainer_new (be, text, &o, &t, &err) != DAE_OK)
    return fail (&err);
  size_t n = (size_t) batch * cfg.in_channels * cfg.image_size * cfg.image_size;
  float *images = g_new (float, n);
  dae_gaussian_noise (1, 0, images, n);
  for (size_t i = 0; i < n; i++)
    images[i] = CLAMP (images[i] * 0.5f, -1.0f, 1.0f);
  gint64 t0 = 0;
  for (int i = 0; i < warmup + steps; i++) {
    if (i == warmup)
      t0 = g_get_monotonic_time ();
    if (dae_trainer_train_step (t, batch, images, NULL, &err) != DAE_OK)
      return fail (&err);
  }
  double ms = (g_get_monotonic_time () - t0) / 1e3 / steps;
  printf ("{\"impl\": \"diffae\", \"backend\": \"%s\", \"config\": \"%s\", \"batch\": %d, "
      "\"steps\": %d, \"ms_per_step\": %.2f, \"images_per_s\": %.2f}\n",
      dae_backend_description (be), cfg.name, batch, steps, ms, batch * 1e3 / ms);
  if (dae_profile_enabled ())     /* DIFFAE_PROFILE=1: where the time goes, per op */
    dae_profile_report (stderr);
  g_free (images);
  g_free (text);
  dae_trainer_free (t);
  dae_backend_unref (be);
  return 0;
}
