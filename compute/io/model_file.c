#include "io/model_file.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#define DIRECTION_PREFIX "direction."
#define BIAS_SUFFIX ".bias"

/* What a tensor of the file is. */
typedef enum {
  KIND_PARAM,
  KIND_MEAN,
  KIND_STD,
  KIND_DIRECTION,
  KIND_DIRECTION_BIAS,
  KIND_DUPLICATE,               /* latent_net.layers.I.cond_layers.1.*: a copy of linear_emb.* */
  KIND_UNEXPECTED,
} Kind;

/* The first problem found and how many there were, for "X (and N more problems)". */
typedef struct {
  DaeStatus code;
  char first[DAE_ERROR_MESSAGE_MAX];
  size_t count;
} Problems;

static void
problem (Problems * p, const char *fmt, ...)
    __attribute__((format (printf, 2, 3)));

static void
problem (Problems * p, const char *fmt, ...)
{
  if (p->count++ == 0) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (p->first, sizeof p->first, fmt, ap);
    va_end (ap);
  }
}

static DaeStatus
problems_report (const Problems * p, DaeError * err)
{
  if (!p->count)
    return DAE_OK;
  if (p->count == 1)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s", p->first);
  return dae_error_set (err, DAE_ERR_FORMAT, "%s (and %zu more problems)", p->first,
      p->count - 1);
}

bool
dae_direction_name_valid (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > DAE_DIRECTION_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return false;
  return true;
}

static void
tensor_shape_text (const DaeSafetensorsTensor * t, char *buf, size_t len)
{
  size_t n = (size_t) snprintf (buf, len, "[");
  for (int i = 0; i < t->ndim && n < len; i++)
    n += (size_t) snprintf (buf + n, len - n, "%s%lld", i ? ", " : "", (long long) t->dims[i]);
  if (n < len)
    snprintf (buf + n, len - n, "]");
}

/* ---- loading --------------------------------------------------------------------------------- */

static DaeStatus
read_config (const DaeSafetensors * st, DaeModelFile * mf, DaeError * err)
{
  const char *path = mf->path, *format = dae_safetensors_metadata (st, "diffae.format");
  const char *json = dae_safetensors_metadata (st, "diffae.config");
  if (!format)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: not a diffae model file (no diffae.format "
        "in __metadata__)", path);
  if (strcmp (format, DAE_MODEL_FORMAT) != 0)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: diffae.format is \"%s\", this reader knows "
        "format " DAE_MODEL_FORMAT, path, format);
  if (!json)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: no diffae.config in __metadata__", path);
  DaeError cerr = { 0 };
  if (dae_model_config_from_json (json, &mf->config, &cerr)) {
    dae_error_prefix (&cerr, "%s: diffae.config", path);
    return dae_error_propagate (err, &cerr);
  }
  DaeStatus s = dae_param_list_new (&mf->config, &mf->params, &cerr);
  if (s) {
    /* Cannot happen for a config that passed from_json; reported as a format error anyway. */
    cerr.code = DAE_ERR_FORMAT;
    dae_error_prefix (&cerr, "%s: diffae.config", path);
    return dae_error_propagate (err, &cerr);
  }
  return DAE_OK;
}

/* latent_net.layers.I.cond_layers.1.LEAF -> latent_net.layers.I.linear_emb.LEAF when that is a
 * parameter (a buffer of DAE_ERROR_MESSAGE_MAX bytes receives the twin's name). */
static bool
duplicate_twin (const DaeParamList * params, const char *name, char *twin)
{
  static const char prefix[] = "latent_net.layers.", mid[] = ".cond_layers.1.";
  if (strncmp (name, prefix, sizeof prefix - 1) != 0)
    return false;
  const char *at = strstr (name, mid);
  if (!at || (size_t) (at - name) + sizeof "linear_emb" + strlen (at) >= DAE_ERROR_MESSAGE_MAX)
    return false;
  snprintf (twin, DAE_ERROR_MESSAGE_MAX, "%.*s.linear_emb.%s", (int) (at - name), name,
      at + sizeof mid - 1);
  return dae_param_list_find (params, twin) >= 0;
}

static Kind
classify (const DaeParamList * params, const char *name)
{
  char twin[DAE_ERROR_MESSAGE_MAX];
  if (dae_param_list_find (params, name) >= 0)
    return KIND_PARAM;
  if (strcmp (name, "latent.mean") == 0)
    return KIND_MEAN;
  if (strcmp (name, "latent.std") == 0)
    return KIND_STD;
  if (g_str_has_prefix (name, DIRECTION_PREFIX)) {
    const char *rest = name + strlen (DIRECTION_PREFIX);
    if (dae_direction_name_valid (rest))
      return KIND_DIRECTION;
    size_t n = strlen (rest);
    if (g_str_has_suffix (rest, BIAS_SUFFIX)) {
      char *stem = g_strndup (rest, n - strlen (BIAS_SUFFIX));
      bool ok = dae_direction_name_valid (stem);
      g_free (stem);
      if (ok)
        return KIND_DIRECTION_BIAS;
    }
    return KIND_UNEXPECTED;
  }
  return duplicate_twin (params, name, twin) ? KIND_DUPLICATE : KIND_UNEXPECTED;
}

static bool
shape_is (const DaeSafetensorsTensor * t, const DaeParamSpec * spec)
{
  if (t->ndim != spec->ndim)
    return false;
  for (int i = 0; i < t->ndim; i++)
    if (t->dims[i] != spec->dims[i])
      return false;
  return true;
}

/* Every parameter present with its shape; nothing else but allowed extras. */
static DaeStatus
check_tensor_set (const DaeSafetensors * st, const DaeModelFile * mf, DaeError * err)
{
  Problems p = { 0 };
  char want[128], got[256];
  for (size_t i = 0; i < dae_param_list_count (mf->params); i++) {
    const DaeParamSpec *spec = dae_param_list_get (mf->params, i);
    const DaeSafetensorsTensor *t = dae_safetensors_find (st, spec->name);
    dae_param_shape_text (spec, want, sizeof want);
    if (!t) {
      problem (&p, "%s: missing tensor %s (shape %s), which config %s needs", mf->path,
          spec->name, want, mf->config.name);
    } else if (!shape_is (t, spec)) {
      tensor_shape_text (t, got, sizeof got);
      problem (&p, "%s: tensor %s has shape %s in the file, config %s expects %s", mf->path,
          spec->name, got, mf->config.name, want);
    }
  }
  for (size_t i = 0; i < dae_safetensors_count (st); i++) {
    const DaeSafetensorsTensor *t = dae_safetensors_get (st, i);
    if (classify (mf->params, t->name) != KIND_UNEXPECTED)
      continue;
    if (g_str_has_prefix (t->name, DIRECTION_PREFIX)) {
      problem (&p, "%s: unexpected tensor %s: a direction is direction.NAME or "
          "direction.NAME.bias, NAME 1..%d characters of [A-Za-z0-9_-]", mf->path, t->name,
          DAE_DIRECTION_NAME_MAX);
    } else {
      tensor_shape_text (t, got, sizeof got);
      problem (&p, "%s: unexpected tensor %s (shape %s): not a tensor of config %s nor an "
          "allowed extra (latent.mean, latent.std, direction.NAME, direction.NAME.bias)",
          mf->path, t->name, got, mf->config.name);
    }
  }
  return problems_report (&p, err);
}

static DaeStatus
check_finite (const char *path, const char *name, const float *v, size_t n, DaeError * err)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite (v[i]))
      return dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s: element %zu is %s", path, name,
          i, isnan (v[i]) ? "NaN" : v[i] > 0 ? "+infinity" : "-infinity");
  return DAE_OK;
}

static DaeStatus
read_params (const DaeSafetensors * st, DaeModelFile * mf, DaeError * err)
{
  size_t total = dae_param_list_numel (mf->params, DAE_PARAM_NET_ALL);
  mf->values = g_try_malloc (MAX (total, 1) * sizeof (float));
  if (!mf->values)
    return dae_error_set (err, DAE_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu MiB for the "
        "weights", mf->path, total * sizeof (float) >> 20);
  mf->dtype = DAE_DTYPE_F32;
  for (size_t i = 0; i < dae_param_list_count (mf->params); i++) {
    const DaeParamSpec *spec = dae_param_list_get (mf->params, i);
    const DaeSafetensorsTensor *t = dae_safetensors_find (st, spec->name);
    float *dst = mf->values + spec->offset;
    if (t->dtype == DAE_DTYPE_F16)
      mf->dtype = DAE_DTYPE_F16;
    dae_safetensors_tensor_to_f32 (t, dst);
    DaeStatus s = check_finite (mf->path, spec->name, dst, spec->numel, err);
    if (s)
      return s;
  }
  return DAE_OK;
}

/* The published code stores linear_emb twice; a copy is accepted only when it is the same
 * tensor, byte for byte. */
static DaeStatus
check_duplicate (const DaeSafetensors * st, const DaeModelFile * mf,
    const DaeSafetensorsTensor * t, DaeError * err)
{
  char twin_name[DAE_ERROR_MESSAGE_MAX];
  duplicate_twin (mf->params, t->name, twin_name);
  const DaeSafetensorsTensor *twin = dae_safetensors_find (st, twin_name);
  const DaeParamSpec *spec = dae_param_list_get (mf->params,
      (size_t) dae_param_list_find (mf->params, twin_name));
  if (!shape_is (t, spec) || t->dtype != twin->dtype || memcmp (t->data, twin->data,
          t->nbytes) != 0)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s differs from %s (both names must "
        "hold the same tensor, byte for byte)", mf->path, t->name, twin_name);
  return DAE_OK;
}

/* A [n] extra (n = z or 1) read into a new array and checked finite. */
static DaeStatus
read_vector (const DaeModelFile * mf, const DaeSafetensorsTensor * t, size_t n, float **out,
    DaeError * err)
{
  char got[256];
  if (t->ndim != 1 || (size_t) t->dims[0] != n) {
    tensor_shape_text (t, got, sizeof got);
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s has shape %s, must be [%zu]",
        mf->path, t->name, got, n);
  }
  *out = g_new (float, n);
  dae_safetensors_tensor_to_f32 (t, *out);
  return check_finite (mf->path, t->name, *out, n, err);
}

static DaeStatus
read_direction (const DaeSafetensors * st, DaeModelFile * mf, const DaeSafetensorsTensor * t,
    DaeError * err)
{
  size_t z = (size_t) mf->config.z_channels;
  DaeDirection *d = &mf->directions[mf->n_directions++];
  d->name = g_strdup (t->name + strlen (DIRECTION_PREFIX));
  DaeStatus s = read_vector (mf, t, z, &d->weight, err);
  if (s)
    return s;
  bool nonzero = false;
  for (size_t i = 0; i < z; i++)
    nonzero |= d->weight[i] != 0.0f;
  if (!nonzero)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s is all zero (a direction needs a "
        "length)", mf->path, t->name);
  char *bias_name = g_strconcat (t->name, BIAS_SUFFIX, NULL);
  const DaeSafetensorsTensor *b = dae_safetensors_find (st, bias_name);
  g_free (bias_name);
  if (!b)
    return DAE_OK;
  float *bias = NULL;
  s = read_vector (mf, b, 1, &bias, err);
  d->has_bias = !s;
  d->bias = bias ? bias[0] : 0.0f;
  g_free (bias);
  return s;
}

static DaeStatus
check_latent_stats (const DaeModelFile * mf, DaeError * err)
{
  if (!mf->latent_mean != !mf->latent_std)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s without %s (both or neither)",
        mf->path, mf->latent_mean ? "latent.mean" : "latent.std",
        mf->latent_mean ? "latent.std" : "latent.mean");
  for (int i = 0; mf->latent_std && i < mf->config.z_channels; i++)
    if (!(mf->latent_std[i] > 0.0f))
      return dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor latent.std: element %d is %g, "
          "must be > 0", mf->path, i, mf->latent_std[i]);
  return DAE_OK;
}

/* A bias needs its direction. */
static DaeStatus
check_bias (const DaeSafetensors * st, const DaeModelFile * mf, const DaeSafetensorsTensor * t,
    DaeError * err)
{
  char *dir = g_strndup (t->name, strlen (t->name) - strlen (BIAS_SUFFIX));
  bool ok = dae_safetensors_find (st, dir) != NULL;
  DaeStatus s = ok ? DAE_OK : dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s: there is no "
      "%s for it", mf->path, t->name, dir);
  g_free (dir);
  return s;
}

static DaeStatus
read_extras (const DaeSafetensors * st, DaeModelFile * mf, DaeError * err)
{
  size_t z = (size_t) mf->config.z_channels, n = dae_safetensors_count (st);
  DaeStatus s = DAE_OK;
  mf->directions = g_new0 (DaeDirection, n + 1);
  for (size_t i = 0; i < n && !s; i++) {
    const DaeSafetensorsTensor *t = dae_safetensors_get (st, i);
    switch (classify (mf->params, t->name)) {
      case KIND_MEAN: s = read_vector (mf, t, z, &mf->latent_mean, err); break;
      case KIND_STD: s = read_vector (mf, t, z, &mf->latent_std, err); break;
      case KIND_DIRECTION: s = read_direction (st, mf, t, err); break;
      case KIND_DIRECTION_BIAS: s = check_bias (st, mf, t, err); break;
      case KIND_DUPLICATE: s = check_duplicate (st, mf, t, err); break;
      case KIND_PARAM: case KIND_UNEXPECTED: break;
    }
  }
  return s ? s : check_latent_stats (mf, err);
}

DaeStatus
dae_model_file_load (const char *path, DaeModelFile ** out, DaeError * err)
{
  DaeSafetensors *st;
  *out = NULL;
  DaeStatus s = dae_safetensors_open (path, &st, err);
  if (s)
    return s;
  DaeModelFile *mf = g_new0 (DaeModelFile, 1);
  mf->path = g_strdup (path);
  if (!(s = read_config (st, mf, err)) && !(s = check_tensor_set (st, mf, err))
      && !(s = read_params (st, mf, err)))
    s = read_extras (st, mf, err);
  dae_safetensors_close (st);
  if (s) {
    dae_model_file_free (mf);
    return s;
  }
  *out = mf;
  return DAE_OK;
}

DaeStatus
dae_model_file_new (const DaeModelConfig * cfg, DaeModelFile ** out, DaeError * err)
{
  DaeParamList *params;
  *out = NULL;
  DaeStatus s = dae_param_list_new (cfg, &params, err);
  if (s)
    return s;
  size_t total = dae_param_list_numel (params, DAE_PARAM_NET_ALL);
  float *values = g_try_malloc0 (MAX (total, 1) * sizeof (float));
  if (!values) {
    dae_param_list_free (params);
    return dae_error_set (err, DAE_ERR_OUT_OF_MEMORY, "cannot allocate %zu MiB for the weights "
        "of config %s", total * sizeof (float) >> 20, cfg->name);
  }
  DaeModelFile *mf = g_new0 (DaeModelFile, 1);
  mf->config = *cfg;
  mf->params = params;
  mf->values = values;
  mf->dtype = DAE_DTYPE_F32;
  *out = mf;
  return DAE_OK;
}

static void
direction_clear (DaeDirection * d)
{
  g_free (d->name);
  g_free (d->weight);
}

void
dae_model_file_free (DaeModelFile * mf)
{
  if (!mf)
    return;
  dae_model_file_clear_directions (mf);
  g_free (mf->latent_mean);
  g_free (mf->latent_std);
  g_free (mf->values);
  dae_param_list_free (mf->params);
  g_free (mf->path);
  g_free (mf);
}

float *
dae_model_file_param (const DaeModelFile * mf, size_t index)
{
  const DaeParamSpec *spec = dae_param_list_get (mf->params, index);
  return spec ? mf->values + spec->offset : NULL;
}

float *
dae_model_file_param_by_name (const DaeModelFile * mf, const char *name)
{
  int i = dae_param_list_find (mf->params, name);
  return i < 0 ? NULL : dae_model_file_param (mf, (size_t) i);
}

const DaeDirection *
dae_model_file_direction (const DaeModelFile * mf, const char *name)
{
  for (size_t i = 0; i < mf->n_directions; i++)
    if (strcmp (mf->directions[i].name, name) == 0)
      return &mf->directions[i];
  return NULL;
}

/* ---- editing and writing --------------------------------------------------------------------- */

static DaeStatus
check_vector (const char *path, const char *name, const float *v, size_t n, bool positive,
    DaeError * err)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite (v[i]) || (positive && !(v[i] > 0.0f)))
      return dae_error_set (err, DAE_ERR_INVALID, "%s: tensor %s: element %zu is %g, %s", path,
          name, i, v[i], positive ? "must be finite and > 0" : "must be finite");
  return DAE_OK;
}

static DaeStatus
check_direction (const char *path, const DaeDirection * d, size_t z, DaeError * err)
{
  if (!d->name || !dae_direction_name_valid (d->name))
    return dae_error_set (err, DAE_ERR_INVALID, "%s: direction name \"%s\" must be 1..%d "
        "characters of [A-Za-z0-9_-]", path, d->name ? d->name : "(null)",
        DAE_DIRECTION_NAME_MAX);
  bool nonzero = false;
  for (size_t i = 0; i < z; i++)
    nonzero |= d->weight[i] != 0.0f;
  if (!nonzero)
    return dae_error_set (err, DAE_ERR_INVALID, "%s: direction %s is all zero", path, d->name);
  if (d->has_bias && !isfinite (d->bias))
    return dae_error_set (err, DAE_ERR_INVALID, "%s: direction %s: bias is not finite", path,
        d->name);
  return check_vector (path, d->name, d->weight, z, false, err);
}

DaeStatus
dae_model_file_set_latent_stats (DaeModelFile * mf, const float *mean, const float *std,
    DaeError * err)
{
  size_t z = (size_t) mf->config.z_channels;
  if (!mean != !std)
    return dae_error_set (err, DAE_ERR_INVALID, "latent statistics: give both mean and std, "
        "or neither");
  DaeStatus s;
  if (mean && ((s = check_vector ("latent statistics", "latent.mean", mean, z, false, err))
          || (s = check_vector ("latent statistics", "latent.std", std, z, true, err))))
    return s;
  g_free (mf->latent_mean);
  g_free (mf->latent_std);
  mf->latent_mean = mean ? g_memdup2 (mean, z * sizeof (float)) : NULL;
  mf->latent_std = std ? g_memdup2 (std, z * sizeof (float)) : NULL;
  return DAE_OK;
}

void
dae_model_file_clear_directions (DaeModelFile * mf)
{
  for (size_t i = 0; i < mf->n_directions; i++)
    direction_clear (&mf->directions[i]);
  g_clear_pointer (&mf->directions, g_free);
  mf->n_directions = 0;
}

DaeStatus
dae_model_file_set_direction (DaeModelFile * mf, const char *name, const float *weight,
    bool has_bias, float bias, DaeError * err)
{
  size_t z = (size_t) mf->config.z_channels;
  DaeDirection d = { (char *) name, (float *) weight, has_bias, bias };
  DaeStatus s = check_direction ("direction", &d, z, err);
  if (s)
    return s;
  DaeDirection *slot = (DaeDirection *) dae_model_file_direction (mf, name);
  if (!slot) {
    mf->directions = g_renew (DaeDirection, mf->directions, mf->n_directions + 1);
    slot = &mf->directions[mf->n_directions++];
  } else {
    direction_clear (slot);
  }
  slot->name = g_strdup (name);
  slot->weight = g_memdup2 (weight, z * sizeof (float));
  slot->has_bias = has_bias;
  slot->bias = bias;
  return DAE_OK;
}

/* Finite, and representable in F16 when stored so (the loader refuses infinities). */
static DaeStatus
check_param (const char *path, const DaeParamSpec * spec, const float *v, DaeDtype dtype,
    DaeError * err)
{
  for (size_t i = 0; i < spec->numel; i++) {
    if (!isfinite (v[i]))
      return dae_error_set (err, DAE_ERR_INVALID, "%s: tensor %s: element %zu is %g, cannot be "
          "saved", path, spec->name, i, v[i]);
    if (dtype == DAE_DTYPE_F16 && (dae_f32_to_f16 (v[i]) & 0x7c00) == 0x7c00)
      return dae_error_set (err, DAE_ERR_INVALID, "%s: tensor %s: element %zu is %g, out of the "
          "F16 range (store as F32)", path, spec->name, i, v[i]);
  }
  return DAE_OK;
}

static DaeStatus
add_params (DaeSafetensorsWriter * w, const char *path, const DaeParamList * list,
    const float *const *params, DaeDtype dtype, DaeError * err)
{
  for (size_t i = 0; i < dae_param_list_count (list); i++) {
    const DaeParamSpec *spec = dae_param_list_get (list, i);
    int64_t dims[DAE_PARAM_MAX_DIMS];
    for (int d = 0; d < spec->ndim; d++)
      dims[d] = spec->dims[d];
    DaeStatus s = check_param (path, spec, params[i], dtype, err);
    if (s || (s = dae_safetensors_writer_add (w, spec->name, dtype, spec->ndim, dims, params[i],
                err)))
      return s;
  }
  return DAE_OK;
}

static DaeStatus
add_vector (DaeSafetensorsWriter * w, const char *name, const float *v, size_t n, DaeError * err)
{
  int64_t dim = (int64_t) n;
  return dae_safetensors_writer_add (w, name, DAE_DTYPE_F32, 1, &dim, v, err);
}

static DaeStatus
add_extras (DaeSafetensorsWriter * w, const char *path, const DaeModelConfig * cfg,
    const DaeModelExtras * x, DaeError * err)
{
  size_t z = (size_t) cfg->z_channels;
  DaeStatus s;
  if (!x->latent_mean != !x->latent_std)
    return dae_error_set (err, DAE_ERR_INVALID, "%s: latent mean and std go together", path);
  if (x->latent_mean
      && ((s = check_vector (path, "latent.mean", x->latent_mean, z, false, err))
          || (s = check_vector (path, "latent.std", x->latent_std, z, true, err))
          || (s = add_vector (w, "latent.mean", x->latent_mean, z, err))
          || (s = add_vector (w, "latent.std", x->latent_std, z, err))))
    return s;
  for (size_t i = 0; i < x->n_directions; i++) {
    const DaeDirection *d = &x->directions[i];
    char *name = g_strconcat (DIRECTION_PREFIX, d->name, NULL);
    char *bias_name = g_strconcat (name, BIAS_SUFFIX, NULL);
    if (!(s = check_direction (path, d, z, err)) && !(s = add_vector (w, name, d->weight, z, err))
        && d->has_bias)
      s = add_vector (w, bias_name, &d->bias, 1, err);
    g_free (name);
    g_free (bias_name);
    if (s)
      return s;
  }
  return DAE_OK;
}

DaeStatus
dae_model_file_write (const char *path, const DaeModelConfig * cfg,
    const float *const *params, const DaeModelExtras * extras, DaeDtype dtype, DaeError * err)
{
  DaeParamList *list;
  DaeStatus s = dae_param_list_new (cfg, &list, err);
  if (s)
    return s;
  DaeSafetensorsWriter *w = dae_safetensors_writer_new ();
  char *json = dae_model_config_to_json (cfg);
  dae_safetensors_writer_set_metadata (w, "diffae.format", DAE_MODEL_FORMAT);
  dae_safetensors_writer_set_metadata (w, "diffae.config", json);
  g_free (json);
  if (!(s = add_params (w, path, list, params, dtype, err))
      && !(s = extras ? add_extras (w, path, cfg, extras, err) : DAE_OK))
    s = dae_safetensors_writer_write (w, path, err);
  dae_safetensors_writer_free (w);
  dae_param_list_free (list);
  return s;
}

DaeStatus
dae_model_file_save (const DaeModelFile * mf, const char *path, DaeDtype dtype, DaeError * err)
{
  size_t n = dae_param_list_count (mf->params);
  const float **params = g_new (const float *, n + 1);
  for (size_t i = 0; i < n; i++)
    params[i] = dae_model_file_param (mf, i);
  DaeModelExtras x = { mf->latent_mean, mf->latent_std, mf->n_directions, mf->directions };
  DaeStatus s = dae_model_file_write (path, &mf->config, params, &x, dtype, err);
  g_free (params);
  return s;
}
