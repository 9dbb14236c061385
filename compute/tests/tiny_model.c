/* make-tiny-model: trains a tiny autoencoder for a few hundred steps on smooth synthetic
 * images and writes a complete model file (latent net, latent statistics, two attribute
 * directions) for the tests of the diffusion API and of the GStreamer elements.
 *
 *   make-tiny-model OUT.safetensors [steps]
 *
 * The model is far from good, but it has learnt enough that inverting an image and decoding it
 * again reproduces the image much better than decoding from random noise, which is what the
 * tests need. Deterministic: the same steps give the same file. */
#include "diffae.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE 16
#define BATCH 16

static const char *CONFIG =
    "{\"name\": \"tiny16\", \"image_size\": 16, \"in_channels\": 3, \"base_channels\": 16, "
    "\"channel_mult\": [1, 2], \"enc_channel_mult\": [1, 2, 2], \"num_res_blocks\": 1, "
    "\"attn_resolutions\": [8], \"embed_channels\": 64, \"z_channels\": 16, \"dropout\": 0.0, "
    "\"latent_net\": {\"num_layers\": 3, \"hidden_channels\": 64, \"time_channels\": 16, "
    "\"dropout\": 0.0}}";

/* A smooth image: a coloured Gaussian blob on a coloured background, from a counter hash. */
static void
blob_image (uint64_t index, float *chw)
{
  float r[8];
  dae_gaussian_noise (7, index, r, 8);
  float cx = 8.0f + 3.0f * tanhf (r[0]), cy = 8.0f + 3.0f * tanhf (r[1]);
  float radius = 3.0f + 1.5f * tanhf (r[2]);
  for (int c = 0; c < 3; c++) {
    float fg = 0.8f * tanhf (r[3 + c]), bg = 0.5f * tanhf (r[5 + (c % 3 == 2 ? 0 : c)]);
    for (int y = 0; y < SIZE; y++)
      for (int x = 0; x < SIZE; x++) {
        float d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        float w = expf (-d2 / (2.0f * radius * radius));
        chw[(c * SIZE + y) * SIZE + x] = w * fg + (1.0f - w) * bg;
      }
  }
}

static int
fail (const char *what, const DaeError * err)
{
  fprintf (stderr, "make-tiny-model: %s: %s\n", what, err->message);
  return 1;
}

/* z_sem statistics of a few hundred images under the trained autoencoder. */
static DaeStatus
latent_stats (DaeBackend * be, const char *ae_path, float *mean, float *std, DaeError * err)
{
  DaeModel *m = NULL;
  DaeSession *s = NULL;
  if (dae_model_load (be, ae_path, &m, err) != DAE_OK || dae_session_new (m, &s, err) != DAE_OK)
    return err->code;
  const int n = 256, z = 16;
  float *img = malloc (sizeof (float) * n * 3 * SIZE * SIZE), *zs = malloc (sizeof (float) * n * z);
  for (int i = 0; i < n; i++)
    blob_image (100000 + i, img + (size_t) i * 3 * SIZE * SIZE);
  DaeStatus st = dae_encode (s, n, img, zs, 0, NULL, err);
  for (int j = 0; j < z && st == DAE_OK; j++) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
      sum += zs[i * z + j];
      sq += (double) zs[i * z + j] * zs[i * z + j];
    }
    mean[j] = (float) (sum / n);
    std[j] = (float) sqrt (fmax (sq / n - (sum / n) * (sum / n), 1e-8));
  }
  free (img);
  free (zs);
  dae_session_free (s);
  dae_model_unref (m);
  return st;
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: make-tiny-model OUT.safetensors [steps]\n");
    return 2;
  }
  int steps = argc > 2 ? atoi (argv[2]) : 300;
  DaeBackendOptions bo = {.kind = DAE_BACKEND_CPU };
  DaeBackend *be = NULL;
  DaeError err = { 0 };
  if (dae_backend_open (&bo, &be, &err) != DAE_OK)
    return fail ("opening the CPU backend", &err);
  DaeTrainOptions o;
  dae_train_options_default (&o);
  o.lr = 2e-3f;
  o.ema_decay = 0.9f;
  o.seed = 1;
  DaeTrainer *t = NULL;
  if (dae_trainer_new (be, CONFIG, &o, &t, &err) != DAE_OK)
    return fail ("creating the trainer", &err);
  float *batch = malloc (sizeof (float) * BATCH * 3 * SIZE * SIZE);
  DaeTrainStats st = { 0 };
  for (int step = 0; step < steps; step++) {
    for (int i = 0; i < BATCH; i++)
      blob_image ((uint64_t) step * BATCH + i, batch + (size_t) i * 3 * SIZE * SIZE);
    if (dae_trainer_train_step (t, BATCH, batch, &st, &err) != DAE_OK)
      return fail ("training", &err);
  }
  fprintf (stderr, "make-tiny-model: %d steps, last loss %.4f\n", steps, st.loss);
  char *ae = g_strconcat (argv[1], ".autoenc", NULL);
  if (dae_trainer_export (t, ae, false, 0, NULL, NULL, &err) != DAE_OK)
    return fail ("exporting the autoencoder", &err);
  dae_trainer_free (t);

  /* The latent net stays at its initialisation: the tests only need it to exist. */
  float mean[16], std[16], dir_a[16], dir_b[16];
  if (latent_stats (be, ae, mean, std, &err) != DAE_OK)
    return fail ("encoding for the latent statistics", &err);
  dae_gaussian_noise (11, 0, dir_a, 16);
  dae_gaussian_noise (11, 1, dir_b, 16);
  const char *names[] = { "bright", "round" };
  const float *dirs[] = { dir_a, dir_b };
  if (dae_trainer_new_latent (be, ae, CONFIG, mean, std, &o, &t, &err) != DAE_OK ||
      dae_trainer_export (t, argv[1], false, 2, names, dirs, &err) != DAE_OK)
    return fail ("writing the model", &err);
  dae_trainer_free (t);
  g_remove (ae);
  g_free (ae);
  free (batch);
  dae_backend_unref (be);
  return 0;
}
