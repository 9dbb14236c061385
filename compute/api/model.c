/* Loading a model file onto a backend (dae_model_*), and the model identifier. */
#include "api/model_private.h"
#include "io/model_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 64-bit hash of bytes, 8 at a time (fast enough for a 400 MB model in ~0.1 s). */
static uint64_t
hash_bytes (uint64_t h, const void *data, size_t len)
{
  const unsigned char *p = data;
  const uint64_t k = 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy (&w, p + i, 8);
    h = (h ^ w) * k;
    h ^= h >> 29;
  }
  for (; i < len; i++)
    h = (h ^ p[i]) * 0x100000001B3ull;
  return h ^ (h >> 32);
}

/* The identifier covers the config and the autoencoder's weights (decoder and encoder), not
 * the latent net or the extras: adding attribute directions keeps latents compatible. */
static void
compute_id (DaeModel * m, const DaeModelFile * mf)
{
  char *json = dae_model_config_to_json (&mf->config);
  uint64_t h = hash_bytes (0xcbf29ce484222325ull, json, strlen (json));
  g_free (json);
  size_t n = dae_param_list_numel (mf->params, DAE_PARAM_NET_DECODER) +
      dae_param_list_numel (mf->params, DAE_PARAM_NET_ENCODER);
  h = hash_bytes (h, mf->values, n * sizeof (float));
  g_snprintf (m->id, sizeof m->id, "%016llx", (unsigned long long) h);
}

static DaeStatus
copy_attributes (DaeModel * m, const DaeModelFile * mf, DaeError * err)
{
  int z = mf->config.z_channels;
  m->n_attributes = (int) mf->n_directions;
  m->attribute_names = calloc (mf->n_directions + 1, sizeof *m->attribute_names);
  m->attribute_units = calloc (mf->n_directions + 1, sizeof *m->attribute_units);
  for (size_t i = 0; i < mf->n_directions; i++) {
    const DaeDirection *d = &mf->directions[i];
    double norm = 0;
    for (int j = 0; j < z; j++)
      norm += (double) d->weight[j] * d->weight[j];
    norm = sqrt (norm);
    if (!(norm > 0))
      return dae_error_set (err, DAE_ERR_FORMAT, "%s: direction.%s is zero", mf->path, d->name);
    m->attribute_names[i] = g_strdup (d->name);
    m->attribute_units[i] = malloc ((size_t) z * sizeof (float));
    for (int j = 0; j < z; j++)
      m->attribute_units[i][j] = (float) (d->weight[j] / norm);
  }
  return DAE_OK;
}

static DaeStatus
make_net (DaeModel * m, const DaeModelFile * mf, DaeNetKind kind, DaeNet ** out,
    DaeError * err)
{
  const float *values = mf->values + dae_param_list_offset (mf->params, (DaeParamNet) kind);
  return dae_net_new (m->be, &mf->config, kind, values, out, err);
}

static DaeStatus
build (DaeModel * m, const DaeModelFile * mf, DaeError * err)
{
  m->cfg = mf->config;
  m->parameters = dae_param_list_numel (mf->params, DAE_PARAM_NET_ALL);
  compute_id (m, mf);
  if (make_net (m, mf, DAE_NET_UNET, &m->unet, err) != DAE_OK ||
      make_net (m, mf, DAE_NET_ENCODER, &m->encoder, err) != DAE_OK)
    return err->code;
  if (mf->config.latent.present && make_net (m, mf, DAE_NET_LATENT, &m->latent, err) != DAE_OK)
    return err->code;
  if (mf->latent_mean) {
    size_t bytes = (size_t) mf->config.z_channels * sizeof (float);
    m->latent_mean = g_memdup2 (mf->latent_mean, bytes);
    m->latent_std = g_memdup2 (mf->latent_std, bytes);
  }
  return copy_attributes (m, mf, err);
}

DaeStatus
dae_model_load (DaeBackend * be, const char *path, DaeModel ** out, DaeError * err)
{
  *out = NULL;
  DaeModelFile *mf = NULL;
  if (dae_model_file_load (path, &mf, err) != DAE_OK)
    return err ? err->code : DAE_ERR_FORMAT;
  DaeModel *m = calloc (1, sizeof *m);
  m->refcount = 1;
  m->be = dae_backend_ref (be);
  m->path = g_strdup (path);
  DaeError local = { 0 };
  DaeStatus status = build (m, mf, &local);
  dae_model_file_free (mf);
  if (status != DAE_OK) {
    dae_error_propagate (err, &local);
    dae_error_prefix (err, "%s", path);
    dae_model_unref (m);
    return status;
  }
  *out = m;
  return DAE_OK;
}

DaeModel *
dae_model_ref (DaeModel * m)
{
  g_atomic_int_inc (&m->refcount);
  return m;
}

void
dae_model_unref (DaeModel * m)
{
  if (!m || !g_atomic_int_dec_and_test (&m->refcount))
    return;
  dae_net_free (m->unet);
  dae_net_free (m->encoder);
  dae_net_free (m->latent);
  for (int i = 0; i < m->n_attributes; i++) {
    g_free (m->attribute_names[i]);
    free (m->attribute_units[i]);
  }
  free (m->attribute_names);
  free (m->attribute_units);
  g_free (m->latent_mean);
  g_free (m->latent_std);
  g_free (m->path);
  dae_backend_unref (m->be);
  free (m);
}

void
dae_model_info (const DaeModel * m, DaeModelInfo * info)
{
  info->image_size = m->cfg.image_size;
  info->channels = m->cfg.in_channels;
  info->z_channels = m->cfg.z_channels;
  info->has_latent_net = m->latent != NULL;
  info->has_latent_stats = m->latent_mean != NULL;
  info->n_attributes = m->n_attributes;
  info->parameters = m->parameters;
}

const char *
dae_model_id (const DaeModel * m)
{
  return m->id;
}

const char *
dae_model_path (const DaeModel * m)
{
  return m->path;
}

DaeBackend *
dae_model_backend (const DaeModel * m)
{
  return m->be;
}

const char *
dae_model_attribute (const DaeModel * m, int i)
{
  return (i >= 0 && i < m->n_attributes) ? m->attribute_names[i] : NULL;
}

int
dae_model_find_attribute (const DaeModel * m, const char *name)
{
  for (int i = 0; i < m->n_attributes; i++)
    if (strcmp (m->attribute_names[i], name) == 0)
      return i;
  return -1;
}
