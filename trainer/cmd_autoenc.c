/* diffae-train autoenc: the encoder and decoder, trained jointly on images. */
#include "commands.h"
#include "init_from.h"
#include "setup.h"
#include "train_run.h"
#include "util.h"

#include <glib.h>
#include <stdio.h>

#include "model/config.h"

typedef struct {
  TrTrainRun run;               /* first: the preview callback sees this struct as a run */
  TrData data;
  TrSampler sampler;
  int *batch_idx;
  float *preview;
} Autoenc;

static void
fill (void *ud, int64_t step, float *batch)
{
  Autoenc *ae = ud;
  const TrImageSet *set = ae->data.train_set;
  size_t per = tr_image_set_image_floats (set);
  tr_sampler_batch (&ae->sampler, step, ae->run.a->batch, ae->batch_idx);
  for (int i = 0; i < ae->run.a->batch; i++)
    tr_image_set_get (set, ae->batch_idx[i], batch + per * i);
}

/* A fresh trainer: from --init's weights, or initialised from --config. */
static DaeStatus
start_fresh (Autoenc * ae, DaeModelConfig * cfg, DaeError * err)
{
  TrArgs *a = ae->run.a;
  DaeTrainOptions o;
  tr_args_train_options (a, &o);
  char *text = a->config ? tr_config_text (a->config, err) : NULL;
  if (a->config && !text)
    return err->code;
  if (!a->config && !a->init) {
    return dae_error_set (err, DAE_ERR_INVALID,
        "--config is required (a preset name or a JSON file), or --init MODEL");
  }
  DaeStatus st = text ? tr_config_parse (text, cfg, err) : DAE_OK;
  if (st != DAE_OK && text[0] == '{')
    dae_error_prefix (err, "%s", a->config);
  if (st == DAE_OK && a->init) {
    char *ckpt = tr_out_path (a, "checkpoint.safetensors");
    st = tr_checkpoint_from_model (a->init, text ? cfg : NULL, &o, ckpt, err);
    if (st == DAE_OK)
      st = tr_checkpoint_config (ckpt, cfg, err);
    if (st == DAE_OK)
      st = dae_trainer_load (ae->run.be, ckpt, &ae->run.t, err);
    g_free (ckpt);
  } else if (st == DAE_OK) {
    st = dae_trainer_new (ae->run.be, text, &o, &ae->run.t, err);
  }
  g_free (text);
  if (st != DAE_OK)
    return st;
  /* config.json keeps the whole config (with its latent net) for the latent phase. */
  char *json = dae_model_config_to_json (cfg), *path = tr_out_path (a, "config.json");
  char *line = g_strconcat (json, "\n", NULL);
  st = tr_write_text (path, line, err);
  g_free (json);
  g_free (line);
  g_free (path);
  return st;
}

static DaeStatus
prepare (Autoenc * ae, DaeError * err)
{
  TrArgs *a = ae->run.a;
  DaeModelConfig cfg;
  char *ckpt = tr_resume_checkpoint (a);
  DaeStatus st = ckpt ? tr_run_state_load (a, "autoenc", err) : DAE_OK;
  if (st == DAE_OK)
    st = tr_train_args_check (a, err);
  if (st == DAE_OK)
    st = tr_args_open_backend (a, &ae->run.be, err);
  if (st == DAE_OK && ckpt) {
    tr_remove_stale_temporaries (a->out);
    st = tr_train_resume (&ae->run, ckpt, DAE_TRAIN_AUTOENC, err);
    if (st == DAE_OK)
      st = tr_checkpoint_config (ckpt, &cfg, err);
  } else if (st == DAE_OK) {
    st = start_fresh (ae, &cfg, err);
  }
  g_free (ckpt);
  if (st == DAE_OK)
    st = tr_data_open (a, cfg.image_size, cfg.in_channels, &ae->data, err);
  if (st == DAE_OK)
    st = tr_run_state_save (a, "autoenc", err);
  return st;
}

int
tr_cmd_autoenc (TrArgs * a)
{
  DaeError err = { 0 };
  Autoenc ae = {.run = {.a = a } };
  int status = 1;
  if (prepare (&ae, &err) == DAE_OK) {
    DaeTrainOptions o = *dae_trainer_options (ae.run.t);
    printf ("autoenc: %d training images, %d held out; batch %d; %s\n", ae.data.n_train,
        ae.data.n_test, a->batch, dae_backend_description (ae.run.be));
    tr_sampler_init (&ae.sampler, ae.data.train, ae.data.n_train, tr_hash3 (o.seed, 1, 0));
    ae.batch_idx = g_new (int, a->batch);
    ae.preview = tr_preview_images (&ae.data, &ae.run.n_preview);
    ae.run.preview_images = ae.preview;
    status = tr_train_run (&ae.run, tr_image_set_image_floats (ae.data.train_set), fill, &ae);
  } else {
    tr_print_error (&err);
  }
  tr_sampler_clear (&ae.sampler);
  g_free (ae.batch_idx);
  g_free (ae.preview);
  tr_data_clear (&ae.data);
  dae_trainer_free (ae.run.t);
  if (ae.run.be)
    dae_backend_unref (ae.run.be);
  return status;
}
