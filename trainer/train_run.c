#include "train_run.h"
#include "model_util.h"
#include "setup.h"
#include "util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"
#include "model/config.h"

float *
tr_preview_images (const TrData * d, int *n)
{
  const TrImageSet *set = d->n_test ? d->test_set : d->train_set;
  const int *idx = d->n_test ? d->test : d->train;
  *n = MIN (TR_PREVIEW_IMAGES, d->n_test ? d->n_test : d->n_train);
  size_t per = tr_image_set_image_floats (set);
  float *images = g_new (float, per * *n);
  for (int i = 0; i < *n; i++)
    tr_image_set_get (set, idx[i], images + per * i);
  return images;
}

DaeStatus
tr_train_args_check (TrArgs * a, DaeError * err)
{
  a->steps = TR_OR (a->steps, -1, TR_DEFAULT_STEPS);
  a->batch = TR_OR (a->batch, -1, TR_DEFAULT_BATCH);
  a->checkpoint_every = TR_OR (a->checkpoint_every, -1, 1000);
  a->sample_every = TR_OR (a->sample_every, -1, 1000);
  a->log_every = TR_OR (a->log_every, -1, 100);
  a->sample_steps = TR_OR (a->sample_steps, -1, 20);
  DaeTrainOptions o;
  tr_args_train_options (a, &o);
  if (a->steps < 0 || a->batch < 1 || a->batch > 4096)
    return dae_error_set (err, DAE_ERR_INVALID, "--steps must be >= 0 and --batch 1..4096");
  if (a->checkpoint_every < 0 || a->sample_every < 0 || a->log_every < 1 || a->sample_steps < 1)
    return dae_error_set (err, DAE_ERR_INVALID,
        "--checkpoint-every and --sample-every must be >= 0, --log-every and --sample-steps >= 1");
  if (!(o.lr > 0) || !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) ||
      !(o.adam_eps > 0) || !(o.weight_decay >= 0) || !(o.grad_clip >= 0) ||
      !(o.ema_decay >= 0 && o.ema_decay <= 1))
    return dae_error_set (err, DAE_ERR_INVALID, "bad optimiser option: need lr > 0, betas in "
        "[0, 1), adam-eps > 0, weight-decay >= 0, grad-clip >= 0, ema-decay in [0, 1]");
  return tr_out_make (a, err);
}

char *
tr_resume_checkpoint (const TrArgs * a)
{
  char *path = tr_out_path (a, "checkpoint.safetensors");
  if (a->resume && g_file_test (path, G_FILE_TEST_EXISTS))
    return path;
  if (a->resume)
    printf ("no checkpoint in %s yet: starting from step 0\n", a->out);
  g_free (path);
  return NULL;
}

DaeStatus
tr_train_resume (TrTrainRun * r, const char *checkpoint, DaeTrainPhase phase, DaeError * err)
{
  if (dae_trainer_load (r->be, checkpoint, &r->t, err) != DAE_OK)
    return err->code;
  if (dae_trainer_phase (r->t) != phase)
    return dae_error_set (err, DAE_ERR_INVALID, "%s is a checkpoint of the %s phase",
        checkpoint, dae_trainer_phase (r->t) == DAE_TRAIN_LATENT ? "latent" : "autoenc");
  /* The library keeps the rest of the options; only the learning rate may change. */
  TrArgs *a = r->a;
  if (!isnan (a->lr))
    dae_trainer_set_lr (r->t, (float) a->lr);
  if (!isnan (a->beta1) || !isnan (a->beta2) || !isnan (a->adam_eps) ||
      !isnan (a->weight_decay) || !isnan (a->grad_clip) || !isnan (a->ema_decay) ||
      a->adamw || a->no_flip || a->seed >= 0 || a->config || a->init)
    fprintf (stderr, "diffae-train: note: on --resume only --lr changes; the other optimiser "
        "options, --seed, --config and --init come from the checkpoint\n");
  printf ("resuming from %s at step %lld\n", checkpoint, (long long) dae_trainer_step (r->t));
  return DAE_OK;
}

DaeStatus
tr_config_parse (const char *text, DaeModelConfig * cfg, DaeError * err)
{
  if (text[0] != '{')
    return dae_model_config_preset (text, cfg, err);
  return dae_model_config_from_json (text, cfg, err);
}

DaeStatus
tr_checkpoint_config (const char *checkpoint, DaeModelConfig * cfg, DaeError * err)
{
  DaeSafetensors *st = NULL;
  if (dae_safetensors_open (checkpoint, &st, err) != DAE_OK)
    return err->code;
  const char *json = dae_safetensors_metadata (st, "diffae.config");
  DaeStatus s = json ? dae_model_config_from_json (json, cfg, err) :
      dae_error_set (err, DAE_ERR_FORMAT, "%s: no diffae.config", checkpoint);
  dae_safetensors_close (st);
  return s;
}

/* The preview callback: export the EMA weights, then a grid from them. */
static DaeStatus
preview (void *ud, int64_t step, DaeError * err)
{
  TrTrainRun *r = ud;
  char *latest = tr_out_path (r->a, "latest.safetensors");
  char *dir = tr_out_path (r->a, "samples");
  char *name = g_strdup_printf ("step-%08lld.png", (long long) step);
  char *png = g_build_filename (dir, name, NULL);
  g_mkdir_with_parents (dir, 0755);
  DaeStatus st = dae_trainer_export (r->t, latest, false, 0, NULL, NULL, err);
  if (st == DAE_OK && r->n_preview > 0)
    st = tr_preview_write (r->be, latest, r->preview_images, r->n_preview, r->a->sample_steps,
        png, err);
  g_free (latest);
  g_free (dir);
  g_free (name);
  g_free (png);
  return st;
}

static int
finish (TrTrainRun * r, int result, DaeError * err)
{
  if (result < 0) {
    tr_print_error (err);
    return 1;
  }
  if (result > 0) {
    printf ("stopped by signal %d at step %lld; continue with --resume --out %s\n", result,
        (long long) dae_trainer_step (r->t), r->a->out);
    return 128 + result;
  }
  char *model = tr_out_path (r->a, "model.safetensors");
  DaeStatus st = dae_trainer_export (r->t, model, r->a->f16, 0, NULL, NULL, err);
  if (st == DAE_OK)
    printf ("wrote %s (EMA weights%s) after %lld steps\n", model, r->a->f16 ? ", f16" : "",
        (long long) dae_trainer_step (r->t));
  g_free (model);
  if (st != DAE_OK)
    tr_print_error (err);
  return st == DAE_OK ? 0 : 1;
}

int
tr_train_run (TrTrainRun * r, size_t item_floats, void (*fill) (void *, int64_t, float *),
    void *ud)
{
  DaeError err = { 0 };
  char *ckpt = tr_out_path (r->a, "checkpoint.safetensors");
  TrLoop l = {
    .t = r->t,.checkpoint = ckpt,.steps = r->a->steps,.batch = r->a->batch,
    .item_floats = item_floats,.checkpoint_every = r->a->checkpoint_every,
    .sample_every = r->a->sample_every,.log_every = r->a->log_every,.fill = fill,
    .preview = preview,.ud = ud,
  };
  int result = tr_loop_run (&l, &err);
  g_free (ckpt);
  return finish (r, result, &err);
}
