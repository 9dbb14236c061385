/* diffae-train latent: the latent DDIM, trained on the normalised z_sem that the trained
 * (EMA) encoder gives for the training images. */
#include "commands.h"
#include "model_util.h"
#include "setup.h"
#include "train_run.h"
#include "util.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"

#define ENCODE_BATCH 64

typedef struct {
  TrTrainRun run;               /* first: the preview callback sees this struct as a run */
  TrData data;
  TrSampler sampler;
  int *batch_idx, zc;
  float *z;                     /* normalised z_sem of every training image, in data.train order */
  float *preview;
} Latent;

static void
fill (void *ud, int64_t step, float *batch)
{
  Latent *l = ud;
  tr_sampler_batch (&l->sampler, step, l->run.a->batch, l->batch_idx);
  for (int i = 0; i < l->run.a->batch; i++)
    memcpy (batch + (size_t) l->zc * i, l->z + (size_t) l->zc * l->batch_idx[i],
        sizeof (float) * l->zc);
}

/* --config, or config.json next to the autoencoder (what autoenc wrote there). */
static char *
latent_config (const TrArgs * a, DaeError * err)
{
  if (a->config)
    return tr_config_text (a->config, err);
  char *dir = g_path_get_dirname (a->model), *path = g_build_filename (dir, "config.json", NULL);
  char *text = NULL;
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    text = tr_config_text (path, err);
  else
    dae_error_set (err, DAE_ERR_INVALID, "--config is required: give the config the "
        "autoencoder was trained with, with a latent_net (no %s)", path);
  g_free (dir);
  g_free (path);
  return text;
}

/* z_sem of the training images under the autoencoder, in data.train order. */
static DaeStatus
encode_train (Latent * l, DaeError * err)
{
  DaeModel *m = NULL;
  DaeSession *s = NULL;
  if (dae_model_load (l->run.be, l->run.a->model, &m, err) != DAE_OK)
    return err->code;
  DaeModelInfo info;
  dae_model_info (m, &info);
  l->zc = info.z_channels;
  DaeStatus st = dae_session_new (m, &s, err);
  if (st == DAE_OK)
    st = tr_data_open (l->run.a, info.image_size, info.channels, &l->data, err);
  if (st == DAE_OK) {
    printf ("latent: encoding %d training images with %s\n", l->data.n_train, l->run.a->model);
    l->z = g_new (float, (size_t) l->data.n_train * l->zc);
    st = tr_encode_set (s, l->data.train_set, l->data.train, l->data.n_train, ENCODE_BATCH,
        l->z, err);
  }
  dae_session_free (s);
  dae_model_unref (m);
  return st;
}

/* The statistics the resumed trainer normalises with, as stored in its checkpoint. */
static DaeStatus
checkpoint_stats (const char *ckpt, int zc, float *mean, float *std, DaeError * err)
{
  DaeSafetensors *st = NULL;
  if (dae_safetensors_open (ckpt, &st, err) != DAE_OK)
    return err->code;
  DaeStatus s = dae_safetensors_read_f32 (st, "latent.mean", mean, (size_t) zc, err);
  if (s == DAE_OK)
    s = dae_safetensors_read_f32 (st, "latent.std", std, (size_t) zc, err);
  dae_safetensors_close (st);
  return s;
}

static void
normalise (Latent * l, const float *mean, const float *std)
{
  for (int i = 0; i < l->data.n_train; i++)
    for (int j = 0; j < l->zc; j++) {
      float *v = l->z + (size_t) i * l->zc + j;
      *v = (*v - mean[j]) / std[j];
    }
}

static DaeStatus
start (Latent * l, const char *ckpt, DaeError * err)
{
  TrArgs *a = l->run.a;
  float *mean = g_new (float, l->zc), *std = g_new (float, l->zc);
  DaeStatus st = DAE_OK;
  if (ckpt) {
    st = tr_train_resume (&l->run, ckpt, DAE_TRAIN_LATENT, err);
    if (st == DAE_OK)
      st = checkpoint_stats (ckpt, l->zc, mean, std, err);
  } else {
    tr_latent_stats (l->z, l->data.n_train, l->zc, mean, std);
    DaeTrainOptions o;
    tr_args_train_options (a, &o);
    char *cfg = latent_config (a, err);
    st = cfg ? dae_trainer_new_latent (l->run.be, a->model, cfg, mean, std, &o, &l->run.t,
        err) : err->code;
    g_free (cfg);
  }
  if (st == DAE_OK)
    normalise (l, mean, std);
  g_free (mean);
  g_free (std);
  return st;
}

static DaeStatus
prepare (Latent * l, DaeError * err)
{
  TrArgs *a = l->run.a;
  char *ckpt = tr_resume_checkpoint (a);
  DaeStatus st = ckpt ? tr_run_state_load (a, "latent", err) : DAE_OK;
  if (st == DAE_OK)
    st = tr_train_args_check (a, err);
  if (st == DAE_OK && !a->model)
    st = dae_error_set (err, DAE_ERR_INVALID, "--model (the trained autoencoder) is required");
  if (st == DAE_OK)
    st = tr_args_open_backend (a, &l->run.be, err);
  if (st == DAE_OK && ckpt)
    tr_remove_stale_temporaries (a->out);
  if (st == DAE_OK)
    st = encode_train (l, err);
  if (st == DAE_OK)
    st = start (l, ckpt, err);
  if (st == DAE_OK)
    st = tr_run_state_save (a, "latent", err);
  g_free (ckpt);
  return st;
}

int
tr_cmd_latent (TrArgs * a)
{
  DaeError err = { 0 };
  Latent l = {.run = {.a = a } };
  int status = 1;
  if (prepare (&l, &err) == DAE_OK) {
    DaeTrainOptions o = *dae_trainer_options (l.run.t);
    printf ("latent: %d z_sem vectors of %d; batch %d; %s\n", l.data.n_train, l.zc, a->batch,
        dae_backend_description (l.run.be));
    tr_sampler_init (&l.sampler, NULL, l.data.n_train, tr_hash3 (o.seed, 2, 0));
    l.batch_idx = g_new (int, a->batch);
    l.preview = tr_preview_images (&l.data, &l.run.n_preview);
    l.run.preview_images = l.preview;
    status = tr_train_run (&l.run, (size_t) l.zc, fill, &l);
  } else {
    tr_print_error (&err);
  }
  tr_sampler_clear (&l.sampler);
  g_free (l.batch_idx);
  g_free (l.preview);
  g_free (l.z);
  tr_data_clear (&l.data);
  dae_trainer_free (l.run.t);
  if (l.run.be)
    dae_backend_unref (l.run.be);
  return status;
}
