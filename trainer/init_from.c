#include "init_from.h"

#include <glib.h>
#include <string.h>

#include "io/json.h"
#include "io/model_file.h"

/* The options as checkpoint.c stores them. */
static char *
options_json (const DaeTrainOptions * o)
{
  GString *b = g_string_new ("{");
  g_string_append_printf (b, "\"seed\": \"%llu\", \"adamw\": %s, \"hflip\": %s",
      (unsigned long long) o->seed, o->adamw ? "true" : "false", o->hflip ? "true" : "false");
  const char *keys[] = { "lr", "beta1", "beta2", "adam_eps", "weight_decay", "grad_clip",
    "ema_decay"
  };
  const float values[] = { o->lr, o->beta1, o->beta2, o->adam_eps, o->weight_decay,
    o->grad_clip, o->ema_decay
  };
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++) {
    g_string_append_printf (b, ", \"%s\": ", keys[i]);
    dae_json_append_double (b, values[i]);
  }
  g_string_append (b, "}");
  return g_string_free (b, FALSE);
}

/* The autoencoders of a and b have the same parameters (dropout and latent net aside). */
static bool
same_autoencoder (const DaeModelConfig * a, const DaeModelConfig * b)
{
  DaeModelConfig x = *a, y = *b;
  x.latent = y.latent = (DaeLatentNetConfig) { 0 };
  x.dropout = y.dropout = 0;
  memset (x.name, 0, sizeof x.name);
  memset (y.name, 0, sizeof y.name);
  return dae_model_config_equal (&x, &y);
}

static DaeStatus
add_net (DaeSafetensorsWriter * w, const char *key, const float *values, const float *zeros,
    size_t n, DaeError * err)
{
  const char *parts[] = { "param", "ema", "adam_m", "adam_v" };
  int64_t dims[1] = { (int64_t) n };
  for (int i = 0; i < 4; i++) {
    char name[64];
    g_snprintf (name, sizeof name, "%s.%s", key, parts[i]);
    if (dae_safetensors_writer_add (w, name, DAE_DTYPE_F32, 1, dims, i < 2 ? values : zeros,
            err) != DAE_OK)
      return err->code;
  }
  return DAE_OK;
}

DaeStatus
tr_checkpoint_from_model (const char *model_path, const DaeModelConfig * config,
    const DaeTrainOptions * o, const char *checkpoint, DaeError * err)
{
  DaeModelFile *mf = NULL;
  if (dae_model_file_load (model_path, &mf, err) != DAE_OK)
    return err->code;
  if (config && !same_autoencoder (config, &mf->config)) {
    dae_model_file_free (mf);
    return dae_error_set (err, DAE_ERR_INVALID,
        "%s: its autoencoder does not have the shapes of the requested config", model_path);
  }
  const DaeModelConfig *cfg = config ? config : &mf->config;
  DaeSafetensorsWriter *w = dae_safetensors_writer_new ();
  char *opts = options_json (o), *cfg_json = dae_model_config_to_json (cfg);
  dae_safetensors_writer_set_metadata (w, "diffae.checkpoint", "1");
  dae_safetensors_writer_set_metadata (w, "phase", "autoenc");
  dae_safetensors_writer_set_metadata (w, "step", "0");
  dae_safetensors_writer_set_metadata (w, "options", opts);
  dae_safetensors_writer_set_metadata (w, "diffae.config", cfg_json);
  size_t nd = dae_param_list_numel (mf->params, DAE_PARAM_NET_DECODER);
  size_t ne = dae_param_list_numel (mf->params, DAE_PARAM_NET_ENCODER);
  float *zeros = g_new0 (float, MAX (nd, ne));
  DaeStatus st = add_net (w, "decoder", mf->values + dae_param_list_offset (mf->params,
          DAE_PARAM_NET_DECODER), zeros, nd, err);
  if (st == DAE_OK)
    st = add_net (w, "encoder", mf->values + dae_param_list_offset (mf->params,
            DAE_PARAM_NET_ENCODER), zeros, ne, err);
  if (st == DAE_OK)
    st = dae_safetensors_writer_write (w, checkpoint, err);
  g_free (zeros);
  g_free (opts);
  g_free (cfg_json);
  dae_safetensors_writer_free (w);
  dae_model_file_free (mf);
  return st;
}
