/* Training checkpoints and model export.
 *
 * A checkpoint is a safetensors file (doc/training.md): for each trained network its weights,
 * EMA weights and Adam moments as flat F32 tensors ("decoder.param", "decoder.ema",
 * "decoder.adam_m", "decoder.adam_v", likewise "encoder.*" or "latent.*"), in the latent phase
 * the frozen autoencoder ("frozen") and the z_sem statistics, and in the metadata the phase,
 * the step, the options and the config. It is written atomically, so a kill at any moment
 * leaves the previous checkpoint intact. */
#include "train/trainer_private.h"
#include "io/json.h"
#include "io/model_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_FORMAT "1"

static const char *
net_key (DaeNetKind kind)
{
  switch (kind) {
    case DAE_NET_UNET: return "decoder";
    case DAE_NET_ENCODER: return "encoder";
    default: return "latent";
  }
}

/* ---- options as JSON ------------------------------------------------------------------------ */

static void
append_float (GString * b, const char *key, double v, bool last)
{
  g_string_append_printf (b, "\"%s\": ", key);
  dae_json_append_double (b, v);
  g_string_append (b, last ? "}" : ", ");
}

static char *
options_to_json (const DaeTrainOptions * o)
{
  GString *b = g_string_new ("{");
  g_string_append_printf (b, "\"seed\": \"%llu\", \"adamw\": %s, \"hflip\": %s, ",
      (unsigned long long) o->seed, o->adamw ? "true" : "false", o->hflip ? "true" : "false");
  append_float (b, "lr", o->lr, false);
  append_float (b, "beta1", o->beta1, false);
  append_float (b, "beta2", o->beta2, false);
  append_float (b, "adam_eps", o->adam_eps, false);
  append_float (b, "weight_decay", o->weight_decay, false);
  append_float (b, "grad_clip", o->grad_clip, false);
  append_float (b, "ema_decay", o->ema_decay, true);
  return g_string_free (b, FALSE);
}

static bool
json_float (const DaeJson * obj, const char *key, float *out)
{
  const DaeJson *v = dae_json_member (obj, key);
  if (!v || v->type != DAE_JSON_NUMBER)
    return false;
  *out = (float) v->num.value;
  return true;
}

static bool
json_bool (const DaeJson * obj, const char *key, bool *out)
{
  const DaeJson *v = dae_json_member (obj, key);
  if (!v || v->type != DAE_JSON_BOOL)
    return false;
  *out = v->boolean;
  return true;
}

static bool
options_from_json (const char *text, DaeTrainOptions * o)
{
  char msg[128];
  DaeJson *j = text ? dae_json_parse (text, strlen (text), msg, sizeof msg) : NULL;
  const DaeJson *seed = j ? dae_json_member (j, "seed") : NULL;
  bool ok = j && j->type == DAE_JSON_OBJECT && seed && seed->type == DAE_JSON_STRING &&
      json_float (j, "lr", &o->lr) && json_float (j, "beta1", &o->beta1) &&
      json_float (j, "beta2", &o->beta2) && json_float (j, "adam_eps", &o->adam_eps) &&
      json_float (j, "weight_decay", &o->weight_decay) &&
      json_float (j, "grad_clip", &o->grad_clip) && json_float (j, "ema_decay", &o->ema_decay)
      && json_bool (j, "adamw", &o->adamw) && json_bool (j, "hflip", &o->hflip);
  if (ok)
    o->seed = g_ascii_strtoull (seed->str.s, NULL, 10);
  dae_json_free (j);
  return ok;
}

/* ---- save ------------------------------------------------------------------------------------ */

typedef struct {
  DaeSafetensorsWriter *w;
  GPtrArray *buffers;                   /* host copies, alive until the file is written */
} Saver;

static DaeStatus
save_array (Saver * sv, const char *name, const float *data, size_t n, DaeError * err)
{
  int64_t dims[1] = { (int64_t) n };
  return dae_safetensors_writer_add (sv->w, name, DAE_DTYPE_F32, 1, dims, data, err);
}

static DaeStatus
save_tensor (DaeTrainer * t, Saver * sv, const char *name, const DaeTensor * x, DaeError * err)
{
  size_t n = dae_tensor_numel (x);
  float *host = malloc (n * sizeof *host);
  if (!host)
    return dae_error_set (err, DAE_ERR_OUT_OF_MEMORY, "out of memory saving %s", name);
  g_ptr_array_add (sv->buffers, host);
  if (dae_tensor_read (t->s, x, host, err) != DAE_OK)
    return err->code;
  return save_array (sv, name, host, n, err);
}

static DaeStatus
save_net (DaeTrainer * t, Saver * sv, const TrainedNet * tn, DaeError * err)
{
  const char *key = net_key (tn->kind);
  const char *parts[] = { "param", "ema", "adam_m", "adam_v" };
  const DaeTensor *tensors[] = { dae_net_params (tn->net), tn->ema, tn->m, tn->v };
  for (int i = 0; i < 4; i++) {
    char name[64];
    g_snprintf (name, sizeof name, "%s.%s", key, parts[i]);
    if (save_tensor (t, sv, name, tensors[i], err) != DAE_OK)
      return err->code;
  }
  return DAE_OK;
}

static size_t
autoencoder_numel (const DaeModelConfig * cfg)
{
  DaeParamList *list = NULL;
  if (dae_param_list_new (cfg, &list, NULL) != DAE_OK)
    return 0;
  size_t n = dae_param_list_numel (list, DAE_PARAM_NET_DECODER) +
      dae_param_list_numel (list, DAE_PARAM_NET_ENCODER);
  dae_param_list_free (list);
  return n;
}

static void
set_metadata (DaeTrainer * t, DaeSafetensorsWriter * w)
{
  char step[32];
  g_snprintf (step, sizeof step, "%lld", (long long) t->step);
  char *options = options_to_json (&t->o), *config = dae_model_config_to_json (&t->cfg);
  dae_safetensors_writer_set_metadata (w, "diffae.checkpoint", CHECKPOINT_FORMAT);
  dae_safetensors_writer_set_metadata (w, "phase",
      t->phase == DAE_TRAIN_LATENT ? "latent" : "autoenc");
  dae_safetensors_writer_set_metadata (w, "step", step);
  dae_safetensors_writer_set_metadata (w, "options", options);
  dae_safetensors_writer_set_metadata (w, "diffae.config", config);
  g_free (options);
  g_free (config);
}

DaeStatus
dae_trainer_save (DaeTrainer * t, const char *path, DaeError * err)
{
  Saver sv = { dae_safetensors_writer_new (), g_ptr_array_new_with_free_func (free) };
  set_metadata (t, sv.w);
  DaeStatus st = DAE_OK;
  for (int i = 0; i < t->n_nets && st == DAE_OK; i++)
    st = save_net (t, &sv, &t->nets[i], err);
  if (st == DAE_OK && t->phase == DAE_TRAIN_LATENT) {
    size_t z = (size_t) t->cfg.z_channels;
    st = save_array (&sv, "frozen", t->frozen, autoencoder_numel (&t->cfg), err);
    if (st == DAE_OK)
      st = save_array (&sv, "latent.mean", t->latent_mean, z, err);
    if (st == DAE_OK)
      st = save_array (&sv, "latent.std", t->latent_std, z, err);
  }
  if (st == DAE_OK)
    st = dae_safetensors_writer_write (sv.w, path, err);
  dae_safetensors_writer_free (sv.w);
  g_ptr_array_free (sv.buffers, TRUE);
  return st;
}

/* ---- load ------------------------------------------------------------------------------------ */

/* Tensor `name` as a new host array of exactly n floats. */
static float *
load_array (DaeSafetensors * st, const char *name, size_t n, DaeError * err)
{
  const DaeSafetensorsTensor *x = dae_safetensors_find (st, name);
  if (!x || x->numel != n) {
    dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s is %s (expected %zu values)",
        dae_safetensors_path (st), name, x ? "of the wrong size" : "missing", n);
    return NULL;
  }
  float *v = malloc (n * sizeof *v + 4);
  dae_safetensors_tensor_to_f32 (x, v);
  return v;
}

static DaeStatus
load_net (DaeTrainer * t, DaeSafetensors * st, DaeNetKind kind, DaeError * err)
{
  const char *key = net_key (kind);
  char name[64];
  DaeParamList *list = NULL;
  if (dae_param_list_new (&t->cfg, &list, err) != DAE_OK)
    return err->code;
  size_t n = dae_param_list_numel (list, (DaeParamNet) kind);
  dae_param_list_free (list);
  g_snprintf (name, sizeof name, "%s.param", key);
  float *values = load_array (st, name, n, err);
  if (!values || dae_trainer_add_net (t, kind, values, err) != DAE_OK) {
    free (values);
    return err->code;
  }
  free (values);
  TrainedNet *tn = &t->nets[t->n_nets - 1];
  const char *parts[] = { "ema", "adam_m", "adam_v" };
  DaeTensor *tensors[] = { tn->ema, tn->m, tn->v };
  for (int i = 0; i < 3; i++) {
    g_snprintf (name, sizeof name, "%s.%s", key, parts[i]);
    float *v = load_array (st, name, n, err);
    if (!v)
      return err->code;
    dae_tensor_write (t->s, tensors[i], v);
    free (v);
  }
  return dae_stream_sync (t->s, err);
}

static DaeStatus
read_header (DaeTrainer * t, DaeSafetensors * st, DaeError * err)
{
  const char *path = dae_safetensors_path (st);
  const char *format = dae_safetensors_metadata (st, "diffae.checkpoint");
  const char *phase = dae_safetensors_metadata (st, "phase");
  const char *step = dae_safetensors_metadata (st, "step");
  if (!format || strcmp (format, CHECKPOINT_FORMAT) != 0 || !phase || !step)
    return dae_error_set (err, DAE_ERR_FORMAT,
        "%s is not a diffae training checkpoint (format %s)", path, CHECKPOINT_FORMAT);
  if (!options_from_json (dae_safetensors_metadata (st, "options"), &t->o))
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: the training options are unreadable", path);
  DaeError cerr = { 0 };
  if (dae_model_config_from_json (dae_safetensors_metadata (st, "diffae.config"), &t->cfg,
          &cerr) != DAE_OK)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: %s", path, cerr.message);
  t->phase = strcmp (phase, "latent") == 0 ? DAE_TRAIN_LATENT : DAE_TRAIN_AUTOENC;
  t->step = g_ascii_strtoll (step, NULL, 10);
  return t->step >= 0 ? DAE_OK : dae_error_set (err, DAE_ERR_FORMAT, "%s: bad step", path);
}

static DaeStatus
load_body (DaeTrainer * t, DaeSafetensors * st, DaeError * err)
{
  if (t->phase == DAE_TRAIN_AUTOENC)
    return load_net (t, st, DAE_NET_UNET, err) == DAE_OK ?
        load_net (t, st, DAE_NET_ENCODER, err) : err->code;
  size_t z = (size_t) t->cfg.z_channels;
  t->frozen = load_array (st, "frozen", autoencoder_numel (&t->cfg), err);
  t->latent_mean = t->frozen ? load_array (st, "latent.mean", z, err) : NULL;
  t->latent_std = t->latent_mean ? load_array (st, "latent.std", z, err) : NULL;
  if (!t->latent_std)
    return err->code;
  return load_net (t, st, DAE_NET_LATENT, err);
}

DaeStatus
dae_trainer_load (DaeBackend * be, const char *path, DaeTrainer ** out, DaeError * err)
{
  *out = NULL;
  DaeSafetensors *st = NULL;
  if (dae_safetensors_open (path, &st, err) != DAE_OK)
    return err->code;
  DaeTrainer *t = dae_trainer_alloc (be, NULL, err);
  DaeStatus status = t ? read_header (t, st, err) : err->code;
  if (status == DAE_OK)
    status = load_body (t, st, err);
  if (status == DAE_OK)
    status = dae_trainer_finish_setup (t, err);
  dae_safetensors_close (st);
  if (status != DAE_OK) {
    dae_trainer_free (t);
    return status;
  }
  *out = t;
  return DAE_OK;
}

/* ---- export ---------------------------------------------------------------------------------- */

/* Every parameter of the exported config, list order: the EMA weights of the trained nets and
 * the frozen autoencoder in the latent phase. */
static float *
export_values (DaeTrainer * t, const DaeParamList * list, DaeError * err)
{
  float *values = calloc (dae_param_list_numel (list, DAE_PARAM_NET_ALL) + 1, sizeof *values);
  if (t->frozen)
    memcpy (values, t->frozen, autoencoder_numel (&t->cfg) * sizeof (float));
  for (int i = 0; i < t->n_nets; i++) {
    TrainedNet *tn = &t->nets[i];
    float *dst = values + dae_param_list_offset (list, (DaeParamNet) tn->kind);
    if (dae_tensor_read (t->s, tn->ema, dst, err) != DAE_OK) {
      free (values);
      return NULL;
    }
  }
  return values;
}

DaeStatus
dae_trainer_export (DaeTrainer * t, const char *path, bool f16, int n_dirs,
    const char *const *dir_names, const float *const *dir_weights, DaeError * err)
{
  /* The autoencoder phase writes a pure autoencoder: its latent net is not trained yet. */
  DaeModelConfig cfg = t->cfg;
  if (t->phase == DAE_TRAIN_AUTOENC)
    cfg.latent = (DaeLatentNetConfig) { 0 };
  DaeParamList *list = NULL;
  if (dae_param_list_new (&cfg, &list, err) != DAE_OK)
    return err->code;
  float *values = export_values (t, list, err);
  DaeStatus st = values ? DAE_OK : err->code;
  size_t count = dae_param_list_count (list);
  const float **params = calloc (count + 1, sizeof *params);
  DaeDirection *dirs = calloc ((size_t) n_dirs + 1, sizeof *dirs);
  for (size_t i = 0; values && i < count; i++)
    params[i] = values + dae_param_list_get (list, i)->offset;
  for (int i = 0; i < n_dirs; i++) {
    dirs[i].name = (char *) dir_names[i];
    dirs[i].weight = (float *) dir_weights[i];
  }
  DaeModelExtras extras = {
    .latent_mean = t->latent_mean,
    .latent_std = t->latent_std,
    .n_directions = (size_t) n_dirs,
    .directions = dirs,
  };
  if (st == DAE_OK)
    st = dae_model_file_write (path, &cfg, params, &extras, f16 ? DAE_DTYPE_F16 : DAE_DTYPE_F32,
        err);
  free (dirs);
  free (params);
  free (values);
  dae_param_list_free (list);
  return st;
}
