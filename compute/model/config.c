#include "model/config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "io/json.h"

/* ---- presets --------------------------------------------------------------------------------- */

static const char *const preset_names[] = {
  "ffhq64", "ffhq128", "bedroom128", "horse128", "ffhq256", "small", "tiny_grey", NULL
};

const char *const *
dae_model_config_preset_names (void)
{
  return preset_names;
}

static void
set_list (int *dst, int *count, const int *src, int n)
{
  memcpy (dst, src, (size_t) n * sizeof *src);
  *count = n;
}

/* The published family: 2 res blocks, attention at 16, embed 512, z 512, dropout 0.1; the
 * 128 and 256 models carry the published latent net. */
static void
published (DaeModelConfig * c, const char *name, int image, int base, const int *mult, int nm,
    const int *enc, int ne, bool latent)
{
  static const int attn[] = { 16 };
  memset (c, 0, sizeof *c);
  g_strlcpy (c->name, name, sizeof c->name);
  c->image_size = image;
  c->in_channels = 3;
  c->base_channels = base;
  set_list (c->channel_mult, &c->n_channel_mult, mult, nm);
  set_list (c->enc_channel_mult, &c->n_enc_channel_mult, enc, ne);
  c->num_res_blocks = 2;
  set_list (c->attn_resolutions, &c->n_attn_resolutions, attn, 1);
  c->embed_channels = 512;
  c->z_channels = 512;
  c->dropout = 0.1;
  if (latent)
    c->latent = (DaeLatentNetConfig) { true, 10, 2048, 64, 0.0 };
}

static void
small_preset (DaeModelConfig * c, bool grey)
{
  static const int mult[] = { 1, 2 }, enc_small[] = { 1, 2, 2 }, attn_small[] = { 8 },
      attn_grey[] = { 4 };
  memset (c, 0, sizeof *c);
  g_strlcpy (c->name, grey ? "tiny_grey" : "small", sizeof c->name);
  c->image_size = grey ? 8 : 16;
  c->in_channels = grey ? 1 : 3;
  c->base_channels = grey ? 8 : 16;
  set_list (c->channel_mult, &c->n_channel_mult, mult, 2);
  set_list (c->enc_channel_mult, &c->n_enc_channel_mult, grey ? mult : enc_small, grey ? 2 : 3);
  c->num_res_blocks = 1;
  set_list (c->attn_resolutions, &c->n_attn_resolutions, grey ? attn_grey : attn_small, 1);
  c->embed_channels = grey ? 16 : 32;
  c->z_channels = grey ? 8 : 32;
  c->dropout = 0.1;
  c->latent = grey ? (DaeLatentNetConfig) { true, 2, 16, 8, 0.0 }
      : (DaeLatentNetConfig) { true, 3, 64, 16, 0.0 };
}

DaeStatus
dae_model_config_preset (const char *name, DaeModelConfig * out, DaeError * err)
{
  static const int m64[] = { 1, 2, 4, 8 }, e64[] = { 1, 2, 4, 8, 8 };
  static const int m128[] = { 1, 1, 2, 3, 4 }, e128[] = { 1, 1, 2, 3, 4, 4 };
  static const int m256[] = { 1, 1, 2, 2, 4, 4 }, e256[] = { 1, 1, 2, 2, 4, 4, 4 };
  if (!name)
    name = "";
  if (strcmp (name, "ffhq64") == 0)
    published (out, name, 64, 64, m64, 4, e64, 5, false);
  else if (strcmp (name, "ffhq128") == 0 || strcmp (name, "bedroom128") == 0
      || strcmp (name, "horse128") == 0)
    published (out, name, 128, 128, m128, 5, e128, 6, true);
  else if (strcmp (name, "ffhq256") == 0)
    published (out, name, 256, 128, m256, 6, e256, 7, true);
  else if (strcmp (name, "small") == 0 || strcmp (name, "tiny_grey") == 0)
    small_preset (out, name[0] == 't');
  else {
    char *list = g_strjoinv (", ", (char **) preset_names);
    dae_error_set (err, DAE_ERR_INVALID, "unknown model config \"%s\" (presets: %s)", name, list);
    g_free (list);
    return DAE_ERR_INVALID;
  }
  return DAE_OK;
}

/* ---- validation ------------------------------------------------------------------------------ */

static DaeStatus
check_int (DaeStatus code, DaeError * err, const char *key, int v, int lo, int hi)
{
  if (v < lo || v > hi)
    return dae_error_set (err, code, "%s is %d, must be in %d..%d", key, v, lo, hi);
  return DAE_OK;
}

static DaeStatus
check_dropout (DaeStatus code, DaeError * err, const char *key, double v)
{
  if (!(v >= 0.0 && v < 1.0))
    return dae_error_set (err, code, "%s is %g, must be in [0, 1)", key, v);
  return DAE_OK;
}

static DaeStatus
check_name (DaeStatus code, DaeError * err, const char *name)
{
  size_t n = strnlen (name, DAE_CONFIG_NAME_MAX);
  if (n == 0 || n >= DAE_CONFIG_NAME_MAX)
    return dae_error_set (err, code, "name must be 1..%d bytes", DAE_CONFIG_NAME_MAX - 1);
  for (size_t i = 0; i < n; i++)
    if (name[i] < 0x20 || name[i] > 0x7e)
      return dae_error_set (err, code, "name must be printable ASCII");
  return DAE_OK;
}

/* A level list: 1..MAX entries, each >= 1 with base * m within the width limit, and the image
 * size divisible by 2^(levels-1) (each level but the last halves the feature map). */
static DaeStatus
check_mult (DaeStatus code, DaeError * err, const DaeModelConfig * c, const char *key,
    const int *mult, int n)
{
  if (n < 1 || n > DAE_CONFIG_MAX_LEVELS)
    return dae_error_set (err, code, "%s has %d entries, must have 1..%d", key, n,
        DAE_CONFIG_MAX_LEVELS);
  for (int i = 0; i < n; i++)
    if (mult[i] < 1 || mult[i] > DAE_CONFIG_MAX_WIDTH / c->base_channels)
      return dae_error_set (err, code, "%s[%d] is %d, must be in 1..%d (base_channels * it at "
          "most %d)", key, i, mult[i], DAE_CONFIG_MAX_WIDTH / c->base_channels,
          DAE_CONFIG_MAX_WIDTH);
  if (c->image_size % (1 << (n - 1)) != 0)
    return dae_error_set (err, code, "image_size %d is not divisible by %d, which the %d levels "
        "of %s need", c->image_size, 1 << (n - 1), n, key);
  return DAE_OK;
}

static DaeStatus
check_attn (DaeStatus code, DaeError * err, const DaeModelConfig * c)
{
  if (c->n_attn_resolutions < 0 || c->n_attn_resolutions > DAE_CONFIG_MAX_ATTN)
    return dae_error_set (err, code, "attn_resolutions has %d entries, at most %d", 
        c->n_attn_resolutions, DAE_CONFIG_MAX_ATTN);
  for (int i = 0; i < c->n_attn_resolutions; i++) {
    if (c->attn_resolutions[i] < 1 || c->attn_resolutions[i] > c->image_size)
      return dae_error_set (err, code, "attn_resolutions[%d] is %d, must be in 1..image_size",
          i, c->attn_resolutions[i]);
    for (int k = 0; k < i; k++)
      if (c->attn_resolutions[k] == c->attn_resolutions[i])
        return dae_error_set (err, code, "attn_resolutions lists %d twice",
            c->attn_resolutions[i]);
  }
  return DAE_OK;
}

static DaeStatus
check_latent (DaeStatus code, DaeError * err, const DaeLatentNetConfig * l)
{
  DaeStatus s;
  if (!l->present)
    return DAE_OK;
  if ((s = check_int (code, err, "latent_net.num_layers", l->num_layers, 1, 64))
      || (s = check_int (code, err, "latent_net.hidden_channels", l->hidden_channels, 1,
              DAE_CONFIG_MAX_WIDTH))
      || (s = check_int (code, err, "latent_net.time_channels", l->time_channels, 2,
              DAE_CONFIG_MAX_WIDTH)))
    return s;
  /* The sinusoidal embedding is [cos, sin] pairs. */
  if (l->time_channels % 2)
    return dae_error_set (err, code, "latent_net.time_channels is %d, must be even",
        l->time_channels);
  return check_dropout (code, err, "latent.dropout", l->dropout);
}

static DaeStatus
validate (const DaeModelConfig * c, DaeStatus code, DaeError * err)
{
  DaeStatus s;
  if ((s = check_name (code, err, c->name))
      || (s = check_int (code, err, "image_size", c->image_size, 1, DAE_CONFIG_MAX_IMAGE))
      || (s = check_int (code, err, "in_channels", c->in_channels, 1, 3))
      || (s = check_int (code, err, "base_channels", c->base_channels, 2, DAE_CONFIG_MAX_WIDTH))
      || (s = check_int (code, err, "num_res_blocks", c->num_res_blocks, 1, 64))
      || (s = check_int (code, err, "embed_channels", c->embed_channels, 1,
              DAE_CONFIG_MAX_WIDTH))
      || (s = check_int (code, err, "z_channels", c->z_channels, 1, DAE_CONFIG_MAX_WIDTH)))
    return s;
  if (c->in_channels == 2)
    return dae_error_set (err, code, "in_channels is 2, must be 1 (grey) or 3 (RGB)");
  /* The decoder's time embedding is [cos, sin] pairs of base_channels. */
  if (c->base_channels % 2)
    return dae_error_set (err, code, "base_channels is %d, must be even", c->base_channels);
  if ((s = check_mult (code, err, c, "channel_mult", c->channel_mult, c->n_channel_mult))
      || (s = check_mult (code, err, c, "enc_channel_mult", c->enc_channel_mult,
              c->n_enc_channel_mult))
      || (s = check_attn (code, err, c))
      || (s = check_dropout (code, err, "dropout", c->dropout)))
    return s;
  return check_latent (code, err, &c->latent);
}

DaeStatus
dae_model_config_validate (const DaeModelConfig * cfg, DaeError * err)
{
  return validate (cfg, DAE_ERR_INVALID, err);
}

bool
dae_model_config_has_attention (const DaeModelConfig * cfg, int resolution)
{
  for (int i = 0; i < cfg->n_attn_resolutions; i++)
    if (cfg->attn_resolutions[i] == resolution)
      return true;
  return false;
}

int
dae_groupnorm_groups (int channels)
{
  for (int g = channels < 32 ? channels : 32; g > 1; g--)
    if (channels % g == 0)
      return g;
  return 1;
}

bool
dae_model_config_equal (const DaeModelConfig * a, const DaeModelConfig * b)
{
  char *ja = dae_model_config_to_json (a), *jb = dae_model_config_to_json (b);
  bool eq = strcmp (ja, jb) == 0;
  g_free (ja);
  g_free (jb);
  return eq;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void
append_ints (GString * s, const char *key, const int *v, int n)
{
  g_string_append_printf (s, ", \"%s\": [", key);
  for (int i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", v[i]);
  g_string_append_c (s, ']');
}

char *
dae_model_config_to_json (const DaeModelConfig * c)
{
  GString *s = g_string_new ("{\"name\": ");
  dae_json_append_string (s, c->name);
  g_string_append_printf (s, ", \"image_size\": %d, \"in_channels\": %d, \"base_channels\": %d",
      c->image_size, c->in_channels, c->base_channels);
  append_ints (s, "channel_mult", c->channel_mult, c->n_channel_mult);
  append_ints (s, "enc_channel_mult", c->enc_channel_mult, c->n_enc_channel_mult);
  g_string_append_printf (s, ", \"num_res_blocks\": %d", c->num_res_blocks);
  append_ints (s, "attn_resolutions", c->attn_resolutions, c->n_attn_resolutions);
  g_string_append_printf (s, ", \"embed_channels\": %d, \"z_channels\": %d, \"dropout\": ",
      c->embed_channels, c->z_channels);
  dae_json_append_double (s, c->dropout);
  if (!c->latent.present) {
    g_string_append (s, ", \"latent_net\": null}");
    return g_string_free (s, FALSE);
  }
  g_string_append_printf (s, ", \"latent_net\": {\"num_layers\": %d, \"hidden_channels\": %d, "
      "\"time_channels\": %d, \"dropout\": ", c->latent.num_layers,
      c->latent.hidden_channels, c->latent.time_channels);
  dae_json_append_double (s, c->latent.dropout);
  g_string_append (s, "}}");
  return g_string_free (s, FALSE);
}

/* Strict reading of one object: each member must be one of keys[] and appear once; all keys
 * are required. found[i] receives the member of keys[i]. */
static DaeStatus
read_members (const DaeJson * obj, const char *what, const char *const *keys, int nkeys,
    const DaeJson ** found, DaeError * err)
{
  if (obj->type != DAE_JSON_OBJECT)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s is %s, not an object", what,
        dae_json_type_name (obj->type));
  for (size_t i = 0; i < obj->kids.n; i++) {
    int k = 0;
    while (k < nkeys && strcmp (obj->kids.keys[i], keys[k]) != 0)
      k++;
    if (k == nkeys)
      return dae_error_set (err, DAE_ERR_FORMAT, "unknown key \"%s\" in %s", obj->kids.keys[i],
          what);
    if (found[k])
      return dae_error_set (err, DAE_ERR_FORMAT, "key \"%s\" appears twice in %s", keys[k],
          what);
    found[k] = &obj->kids.items[i];
  }
  for (int k = 0; k < nkeys; k++)
    if (!found[k])
      return dae_error_set (err, DAE_ERR_FORMAT, "%s has no key \"%s\"", what, keys[k]);
  return DAE_OK;
}

static const char *
number_kind (const DaeJson * v)
{
  if (v->type != DAE_JSON_NUMBER)
    return dae_json_type_name (v->type);
  return v->num.is_int ? "an integer out of range" : "a number with a fraction or exponent";
}

static DaeStatus
get_int (const DaeJson * v, const char *key, int *out, DaeError * err)
{
  if (v->type != DAE_JSON_NUMBER || !v->num.int_fits || v->num.int_value < -1000000000
      || v->num.int_value > 1000000000)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s must be an integer, it is %s", key,
        number_kind (v));
  *out = (int) v->num.int_value;
  return DAE_OK;
}

static DaeStatus
get_number (const DaeJson * v, const char *key, double *out, DaeError * err)
{
  if (v->type != DAE_JSON_NUMBER)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s must be a number, it is %s", key,
        dae_json_type_name (v->type));
  *out = v->num.value;
  return DAE_OK;
}

static DaeStatus
get_int_list (const DaeJson * v, const char *key, int *out, int *count, int max,
    DaeError * err)
{
  if (v->type != DAE_JSON_ARRAY)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s must be an array of integers, it is %s", key,
        dae_json_type_name (v->type));
  if (v->kids.n > (size_t) max)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s has %zu entries, at most %d", key,
        v->kids.n, max);
  for (size_t i = 0; i < v->kids.n; i++) {
    char item[64];
    snprintf (item, sizeof item, "%s[%zu]", key, i);
    DaeStatus s = get_int (&v->kids.items[i], item, &out[i], err);
    if (s)
      return s;
  }
  *count = (int) v->kids.n;
  return DAE_OK;
}

static DaeStatus
read_latent (const DaeJson * v, DaeLatentNetConfig * l, DaeError * err)
{
  static const char *const keys[] = { "num_layers", "hidden_channels", "time_channels",
    "dropout"
  };
  const DaeJson *f[4] = { NULL };
  DaeStatus s;
  memset (l, 0, sizeof *l);
  if (v->type == DAE_JSON_NULL)
    return DAE_OK;
  if ((s = read_members (v, "latent_net", keys, 4, f, err))
      || (s = get_int (f[0], "latent_net.num_layers", &l->num_layers, err))
      || (s = get_int (f[1], "latent_net.hidden_channels", &l->hidden_channels, err))
      || (s = get_int (f[2], "latent_net.time_channels", &l->time_channels, err))
      || (s = get_number (f[3], "latent.dropout", &l->dropout, err)))
    return s;
  l->present = true;
  return DAE_OK;
}

enum {
  K_NAME, K_IMAGE, K_IN, K_BASE, K_MULT, K_ENC, K_RES, K_ATTN, K_EMBED, K_Z, K_DROPOUT, K_LATENT,
  N_KEYS
};

static DaeStatus
read_config (const DaeJson * root, DaeModelConfig * c, DaeError * err)
{
  static const char *const keys[N_KEYS] = { "name", "image_size", "in_channels",
    "base_channels", "channel_mult", "enc_channel_mult", "num_res_blocks", "attn_resolutions",
    "embed_channels", "z_channels", "dropout", "latent_net"
  };
  const DaeJson *f[N_KEYS] = { NULL };
  DaeStatus s;
  if ((s = read_members (root, "the config", keys, N_KEYS, f, err)))
    return s;
  if (f[K_NAME]->type != DAE_JSON_STRING)
    return dae_error_set (err, DAE_ERR_FORMAT, "name must be a string, it is %s",
        dae_json_type_name (f[K_NAME]->type));
  if (f[K_NAME]->str.len >= DAE_CONFIG_NAME_MAX)
    return dae_error_set (err, DAE_ERR_FORMAT, "name is %zu bytes, at most %d",
        f[K_NAME]->str.len, DAE_CONFIG_NAME_MAX - 1);
  g_strlcpy (c->name, f[K_NAME]->str.s, sizeof c->name);
  if ((s = get_int (f[K_IMAGE], "image_size", &c->image_size, err))
      || (s = get_int (f[K_IN], "in_channels", &c->in_channels, err))
      || (s = get_int (f[K_BASE], "base_channels", &c->base_channels, err))
      || (s = get_int_list (f[K_MULT], "channel_mult", c->channel_mult, &c->n_channel_mult,
              DAE_CONFIG_MAX_LEVELS, err))
      || (s = get_int_list (f[K_ENC], "enc_channel_mult", c->enc_channel_mult,
              &c->n_enc_channel_mult, DAE_CONFIG_MAX_LEVELS, err))
      || (s = get_int (f[K_RES], "num_res_blocks", &c->num_res_blocks, err))
      || (s = get_int_list (f[K_ATTN], "attn_resolutions", c->attn_resolutions,
              &c->n_attn_resolutions, DAE_CONFIG_MAX_ATTN, err))
      || (s = get_int (f[K_EMBED], "embed_channels", &c->embed_channels, err))
      || (s = get_int (f[K_Z], "z_channels", &c->z_channels, err))
      || (s = get_number (f[K_DROPOUT], "dropout", &c->dropout, err)))
    return s;
  if (f[K_LATENT]->type != DAE_JSON_NULL && f[K_LATENT]->type != DAE_JSON_OBJECT)
    return dae_error_set (err, DAE_ERR_FORMAT, "latent_net must be null or an object, it is %s",
        dae_json_type_name (f[K_LATENT]->type));
  return read_latent (f[K_LATENT], &c->latent, err);
}

DaeStatus
dae_model_config_from_json (const char *json, DaeModelConfig * out, DaeError * err)
{
  char msg[512];
  DaeModelConfig c;
  memset (&c, 0, sizeof c);
  DaeJson *root = dae_json_parse (json, strlen (json), msg, sizeof msg);
  if (!root)
    return dae_error_set (err, DAE_ERR_FORMAT, "not valid JSON: %s", msg);
  DaeStatus s = read_config (root, &c, err);
  dae_json_free (root);
  if (!s)
    s = validate (&c, DAE_ERR_FORMAT, err);
  if (!s)
    *out = c;
  return s;
}
