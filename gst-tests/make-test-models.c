/* make-test-models: untrained models for the element tests, next to the trained tiny16 one
 * (compute/tests/tiny_model.c):
 *   other16.safetensors  tiny16's architecture, other weights (another model-id), no extras
 *   grey8.safetensors    8x8 grey images, z_sem 8 (the "tiny_grey" preset), no extras
 *
 *   make-test-models OTHER16 GREY8 */
#include "diffae.h"

#include <stdio.h>

static const char *OTHER16 =
    "{\"name\": \"other16\", \"image_size\": 16, \"in_channels\": 3, \"base_channels\": 16, "
    "\"channel_mult\": [1, 2], \"enc_channel_mult\": [1, 2, 2], \"num_res_blocks\": 1, "
    "\"attn_resolutions\": [8], \"embed_channels\": 64, \"z_channels\": 16, \"dropout\": 0.0, "
    "\"latent_net\": null}";

static int
write_model (DaeBackend * be, const char *config, uint64_t seed,
    const char *path)
{
  DaeTrainOptions o;
  DaeTrainer *t = NULL;
  DaeError err = { 0 };

  dae_train_options_default (&o);
  o.seed = seed;
  if (dae_trainer_new (be, config, &o, &t, &err) != DAE_OK
      || dae_trainer_export (t, path, false, 0, NULL, NULL, &err) != DAE_OK) {
    fprintf (stderr, "make-test-models: %s: %s\n", path, err.message);
    dae_trainer_free (t);
    return 1;
  }
  dae_trainer_free (t);
  return 0;
}

int
main (int argc, char **argv)
{
  DaeBackendOptions bo = {.kind = DAE_BACKEND_CPU };
  DaeBackend *be = NULL;
  DaeError err = { 0 };
  int ret;

  if (argc != 3) {
    fprintf (stderr, "usage: make-test-models OTHER16 GREY8\n");
    return 2;
  }
  if (dae_backend_open (&bo, &be, &err) != DAE_OK) {
    fprintf (stderr, "make-test-models: %s\n", err.message);
    return 1;
  }
  ret = write_model (be, OTHER16, 2, argv[1])
      || write_model (be, "tiny_grey", 3, argv[2]);
  dae_backend_unref (be);
  return ret;
}
