#include "model/params.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

struct DaeParamList {
  DaeModelConfig config;
  GArray *specs;                /* DaeParamSpec; names owned */
  GHashTable *by_name;          /* name -> index + 1 */
  size_t first[DAE_PARAM_NET_ALL + 1];      /* first index of each net; [COUNT] = total */
  size_t numel_total;
};

const char *
dae_param_net_name (DaeParamNet net)
{
  switch (net) {
    case DAE_PARAM_NET_DECODER: return "decoder";
    case DAE_PARAM_NET_ENCODER: return "encoder";
    case DAE_PARAM_NET_LATENT: return "latent net";
    case DAE_PARAM_NET_ALL: break;
  }
  return "model";
}

/* ---- building -------------------------------------------------------------------------------- */

typedef struct {
  DaeParamList *list;
  DaeParamNet net;
} Builder;

static void
add (Builder * b, const char *prefix, const char *leaf, int ndim, int d0, int d1, int d2, int d3)
{
  DaeParamSpec s = { g_strconcat (prefix, leaf, NULL), b->net, ndim, { d0, d1, d2, d3 }, 1, 0 };
  for (int i = 0; i < ndim; i++)
    s.numel *= (size_t) s.dims[i];
  s.offset = b->list->numel_total;
  b->list->numel_total += s.numel;
  g_array_append_val (b->list->specs, s);
}

/* GroupNorm / LayerNorm: gamma and beta of [c]. */
static void
add_norm (Builder * b, const char *prefix, int c)
{
  add (b, prefix, ".weight", 1, c, 1, 1, 1);
  add (b, prefix, ".bias", 1, c, 1, 1, 1);
}

static void
add_conv (Builder * b, const char *prefix, int cout, int cin, int k)
{
  add (b, prefix, ".weight", 4, cout, cin, k, k);
  add (b, prefix, ".bias", 1, cout, 1, 1, 1);
}

/* Attention's 1x1 convolutions are nn.Conv1d: [out, in, 1]. */
static void
add_conv1d (Builder * b, const char *prefix, int cout, int cin)
{
  add (b, prefix, ".weight", 3, cout, cin, 1, 1);
  add (b, prefix, ".bias", 1, cout, 1, 1, 1);
}

static void
add_linear (Builder * b, const char *prefix, int cout, int cin)
{
  add (b, prefix, ".weight", 2, cout, cin, 1, 1);
  add (b, prefix, ".bias", 1, cout, 1, 1, 1);
}

/* Runs add_* with a printf-formatted prefix. */
#define WITH_PREFIX(var, call, ...) \
  do { \
    char *var = g_strdup_printf (__VA_ARGS__); \
    call; \
    g_free (var); \
  } while (0)

/* ResBlock, in the reference's registration order. The encoder's (cond false) has only the
 * first half. */
static void
add_resblock (Builder * b, const DaeModelConfig * cfg, const char *p, int cin, int cout,
    bool cond)
{
  WITH_PREFIX (q, add_norm (b, q, cin), "%s.in_layers.0", p);
  WITH_PREFIX (q, add_conv (b, q, cout, cin, 3), "%s.in_layers.2", p);
  if (cond) {
    WITH_PREFIX (q, add_linear (b, q, 2 * cout, cfg->embed_channels), "%s.emb_layers.1", p);
    WITH_PREFIX (q, add_linear (b, q, cout, cfg->z_channels), "%s.cond_emb_layers.1", p);
    WITH_PREFIX (q, add_norm (b, q, cout), "%s.out_layers.0", p);
    WITH_PREFIX (q, add_conv (b, q, cout, cout, 3), "%s.out_layers.3", p);
  }
  if (cin != cout)
    WITH_PREFIX (q, add_conv (b, q, cout, cin, 1), "%s.skip_connection", p);
}

static void
add_attention (Builder * b, const char *p, int c)
{
  WITH_PREFIX (q, add_norm (b, q, c), "%s.norm", p);
  WITH_PREFIX (q, add_conv1d (b, q, 3 * c, c), "%s.qkv", p);
  WITH_PREFIX (q, add_conv1d (b, q, c, c), "%s.proj_out", p);
}

/* A block of input_blocks: one ResBlock, then attention at an attention resolution. */
static void
add_level_block (Builder * b, const DaeModelConfig * cfg, const char *path, int block, int cin,
    int cout, int res, bool cond)
{
  WITH_PREFIX (q, add_resblock (b, cfg, q, cin, cout, cond), "%sinput_blocks.%d.0", path, block);
  if (dae_model_config_has_attention (cfg, res))
    WITH_PREFIX (q, add_attention (b, q, cout), "%sinput_blocks.%d.1", path, block);
}

/* input_blocks and middle_block under path ("" or "encoder."). Returns the final width; pushes
 * the skip widths (the decoder's up path pops them). */
static int
add_down_path (Builder * b, const DaeModelConfig * cfg, const char *path, const int *mult,
    int levels, bool cond, GArray * skips)
{
  int ch = cfg->base_channels * mult[0], res = cfg->image_size, block = 1;
  WITH_PREFIX (q, add_conv (b, q, ch, cfg->in_channels, 3), "%sinput_blocks.0.0", path);
  g_array_append_val (skips, ch);
  for (int level = 0; level < levels; level++) {
    for (int r = 0; r < cfg->num_res_blocks; r++) {
      int out = cfg->base_channels * mult[level];
      add_level_block (b, cfg, path, block++, ch, out, res, cond);
      ch = out;
      g_array_append_val (skips, ch);
    }
    if (level != levels - 1) {
      WITH_PREFIX (q, add_resblock (b, cfg, q, ch, ch, cond), "%sinput_blocks.%d.0", path,
          block++);
      g_array_append_val (skips, ch);
      res /= 2;
    }
  }
  WITH_PREFIX (q, add_resblock (b, cfg, q, ch, ch, cond), "%smiddle_block.0", path);
  WITH_PREFIX (q, add_attention (b, q, ch), "%smiddle_block.1", path);
  WITH_PREFIX (q, add_resblock (b, cfg, q, ch, ch, cond), "%smiddle_block.2", path);
  return ch;
}

/* output_blocks: per level in reverse, num_res_blocks + 1 ResBlocks on concat([h, skip]),
 * attention at an attention resolution, an up ResBlock closing every level but level 0. */
static int
add_up_path (Builder * b, const DaeModelConfig * cfg, GArray * skips, int ch)
{
  int levels = cfg->n_channel_mult, block = 0;
  int res = cfg->image_size >> (levels - 1);
  for (int level = levels - 1; level >= 0; level--) {
    for (int i = 0; i <= cfg->num_res_blocks; i++) {
      int out = cfg->base_channels * cfg->channel_mult[level], layer = 1;
      int skip = g_array_index (skips, int, skips->len - 1);
      g_array_set_size (skips, skips->len - 1);
      WITH_PREFIX (q, add_resblock (b, cfg, q, ch + skip, out, true), "output_blocks.%d.0",
          block);
      ch = out;
      if (dae_model_config_has_attention (cfg, res))
        WITH_PREFIX (q, add_attention (b, q, ch), "output_blocks.%d.%d", block, layer++);
      if (level > 0 && i == cfg->num_res_blocks) {
        WITH_PREFIX (q, add_resblock (b, cfg, q, ch, ch, true), "output_blocks.%d.%d", block,
            layer);
        res *= 2;
      }
      block++;
    }
  }
  return ch;
}

static void
add_decoder (Builder * b, const DaeModelConfig * cfg)
{
  GArray *skips = g_array_new (FALSE, FALSE, sizeof (int));
  int base0 = cfg->base_channels * cfg->channel_mult[0];
  b->net = DAE_PARAM_NET_DECODER;
  add_linear (b, "time_embed.time_embed.0", cfg->embed_channels, cfg->base_channels);
  add_linear (b, "time_embed.time_embed.2", cfg->embed_channels, cfg->embed_channels);
  int ch = add_down_path (b, cfg, "", cfg->channel_mult, cfg->n_channel_mult, true, skips);
  add_up_path (b, cfg, skips, ch);
  add_norm (b, "out.0", base0);
  add_conv (b, "out.2", cfg->in_channels, base0, 3);
  g_array_free (skips, TRUE);
}

static void
add_encoder (Builder * b, const DaeModelConfig * cfg)
{
  GArray *skips = g_array_new (FALSE, FALSE, sizeof (int));
  b->net = DAE_PARAM_NET_ENCODER;
  int ch = add_down_path (b, cfg, "encoder.", cfg->enc_channel_mult, cfg->n_enc_channel_mult,
      false, skips);
  add_norm (b, "encoder.out.0", ch);
  add_conv (b, "encoder.out.3", cfg->z_channels, ch, 1);
  g_array_free (skips, TRUE);
}

/* Layer i takes z (i == 0) or [h, z_t]; every layer but the last has linear_emb and a
 * LayerNorm. */
static void
add_latent_net (Builder * b, const DaeModelConfig * cfg)
{
  const DaeLatentNetConfig *l = &cfg->latent;
  int z = cfg->z_channels;
  b->net = DAE_PARAM_NET_LATENT;
  add_linear (b, "latent_net.time_embed.0", z, l->time_channels);
  add_linear (b, "latent_net.time_embed.2", z, z);
  for (int i = 0; i < l->num_layers; i++) {
    bool last = i == l->num_layers - 1;
    int cin = i == 0 ? z : l->hidden_channels + z, cout = last ? z : l->hidden_channels;
    WITH_PREFIX (q, add_linear (b, q, cout, cin), "latent_net.layers.%d.linear", i);
    if (!last) {
      WITH_PREFIX (q, add_linear (b, q, cout, z), "latent_net.layers.%d.linear_emb", i);
      WITH_PREFIX (q, add_norm (b, q, cout), "latent_net.layers.%d.norm", i);
    }
  }
}

DaeStatus
dae_param_list_new (const DaeModelConfig * cfg, DaeParamList ** out, DaeError * err)
{
  *out = NULL;
  DaeStatus s = dae_model_config_validate (cfg, err);
  if (s)
    return s;
  DaeParamList *list = g_new0 (DaeParamList, 1);
  Builder b = { list, DAE_PARAM_NET_DECODER };
  list->config = *cfg;
  list->specs = g_array_new (FALSE, FALSE, sizeof (DaeParamSpec));
  add_decoder (&b, cfg);
  list->first[DAE_PARAM_NET_ENCODER] = list->specs->len;
  add_encoder (&b, cfg);
  list->first[DAE_PARAM_NET_LATENT] = list->specs->len;
  if (cfg->latent.present)
    add_latent_net (&b, cfg);
  list->first[DAE_PARAM_NET_ALL] = list->specs->len;
  list->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < list->specs->len; i++)
    g_hash_table_insert (list->by_name,
        (gpointer) g_array_index (list->specs, DaeParamSpec, i).name, GSIZE_TO_POINTER (i + 1));
  *out = list;
  return DAE_OK;
}

void
dae_param_list_free (DaeParamList * list)
{
  if (!list)
    return;
  for (guint i = 0; i < list->specs->len; i++)
    g_free ((char *) g_array_index (list->specs, DaeParamSpec, i).name);
  g_array_free (list->specs, TRUE);
  g_hash_table_destroy (list->by_name);
  g_free (list);
}

/* ---- queries --------------------------------------------------------------------------------- */

const DaeModelConfig *
dae_param_list_config (const DaeParamList * list)
{
  return &list->config;
}

size_t
dae_param_list_count (const DaeParamList * list)
{
  return list->specs->len;
}

const DaeParamSpec *
dae_param_list_get (const DaeParamList * list, size_t index)
{
  return index < list->specs->len ? &g_array_index (list->specs, DaeParamSpec, index) : NULL;
}

int
dae_param_list_find (const DaeParamList * list, const char *name)
{
  return (int) GPOINTER_TO_SIZE (g_hash_table_lookup (list->by_name, name)) - 1;
}

int
dae_param_list_findf (const DaeParamList * list, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  int i = dae_param_list_find (list, name);
  g_free (name);
  return i;
}

void
dae_param_list_range (const DaeParamList * list, DaeParamNet net, size_t *first, size_t *end)
{
  if (net >= DAE_PARAM_NET_ALL) {
    *first = 0;
    *end = list->specs->len;
    return;
  }
  *first = list->first[net];
  *end = list->first[net + 1];
}

size_t
dae_param_list_offset (const DaeParamList * list, DaeParamNet net)
{
  size_t first, end;
  dae_param_list_range (list, net, &first, &end);
  return first < list->specs->len ? g_array_index (list->specs, DaeParamSpec, first).offset
      : list->numel_total;
}

size_t
dae_param_list_numel (const DaeParamList * list, DaeParamNet net)
{
  size_t first, end;
  dae_param_list_range (list, net, &first, &end);
  size_t stop = end < list->specs->len ? g_array_index (list->specs, DaeParamSpec, end).offset
      : list->numel_total;
  return stop - dae_param_list_offset (list, net);
}

const char *
dae_param_shape_text (const DaeParamSpec * spec, char *buf, size_t len)
{
  size_t n = (size_t) snprintf (buf, len, "[");
  for (int i = 0; i < spec->ndim && n < len; i++)
    n += (size_t) snprintf (buf + n, len - n, "%s%d", i ? ", " : "", spec->dims[i]);
  if (n < len)
    snprintf (buf + n, len - n, "]");
  return buf;
}
