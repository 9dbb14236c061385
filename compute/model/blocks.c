/* The building blocks of the networks: plan (parameters and activations), forward, backward. */
#include "model/blocks.h"

#include <stdio.h>
#include <string.h>

#define NORM_EPS 1e-5f

/* ---- workspace ------------------------------------------------------------------------- */

void
dae_ws_init (DaeWorkspace * ws, DaeBackend * be, bool training)
{
  memset (ws, 0, sizeof *ws);
  ws->be = be;
  ws->training = training;
  ws->owned = g_ptr_array_new_with_free_func ((GDestroyNotify) dae_tensor_free);
  ws->shared = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

void
dae_ws_clear (DaeWorkspace * ws)
{
  if (ws->shared)
    g_hash_table_destroy (ws->shared);
  if (ws->owned)
    g_ptr_array_free (ws->owned, TRUE);
  ws->shared = NULL;
  ws->owned = NULL;
}

DaeTensor *
dae_ws_keep (DaeWorkspace * ws, int n, int c, int h, int w)
{
  if (ws->err.code)
    return NULL;
  DaeTensor *t = dae_tensor_new (ws->be, n, c, h, w, &ws->err);
  if (t) {
    g_ptr_array_add (ws->owned, t);
    ws->bytes += dae_tensor_numel (t) * sizeof (float);
  }
  return t;
}

static DaeTensor *
shared (DaeWorkspace * ws, const char *role, int n, int c, int h, int w)
{
  char key[128];
  g_snprintf (key, sizeof key, "%s:%d:%d:%d:%d", role, n, c, h, w);
  DaeTensor *t = g_hash_table_lookup (ws->shared, key);
  if (!t) {
    t = dae_ws_keep (ws, n, c, h, w);
    if (t)
      g_hash_table_insert (ws->shared, g_strdup (key), t);
  }
  return t;
}

DaeTensor *
dae_ws_temp (DaeWorkspace * ws, const char *role, int n, int c, int h, int w)
{
  return ws->training ? dae_ws_keep (ws, n, c, h, w) : shared (ws, role, n, c, h, w);
}

DaeTensor *
dae_ws_grad_temp (DaeWorkspace * ws, const char *role, int n, int c, int h, int w)
{
  return ws->training ? shared (ws, role, n, c, h, w) : NULL;
}

/* ---- parameters ------------------------------------------------------------------------ */

int
dae_param_index (const DaeParamLayout * layout, DaeWorkspace * ws, const char *prefix,
    const char *suffix)
{
  char name[256];
  g_snprintf (name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", suffix);
  int idx = GPOINTER_TO_INT (g_hash_table_lookup (layout->index, name)) - 1;
  if (idx < 0)
    dae_error_set (&ws->err, DAE_ERR_FORMAT, "the network needs parameter %s", name);
  return idx;
}

DaeConvLayer
dae_conv_layer (const DaeParamLayout * l, DaeWorkspace * ws, const char *prefix, int ksize)
{
  DaeConvLayer c = {
    .w = dae_param_index (l, ws, prefix, "weight"),
    .b = dae_param_index (l, ws, prefix, "bias"),
    .ksize = ksize,
  };
  return c;
}

DaeLinearLayer
dae_linear_layer (const DaeParamLayout * l, DaeWorkspace * ws, const char *prefix)
{
  DaeLinearLayer c = {
    .w = dae_param_index (l, ws, prefix, "weight"),
    .b = dae_param_index (l, ws, prefix, "bias"),
  };
  return c;
}

DaeNormLayer
dae_norm_layer (const DaeParamLayout * l, DaeWorkspace * ws, const char *prefix, int channels)
{
  DaeNormLayer c = {
    .gamma = dae_param_index (l, ws, prefix, "weight"),
    .beta = dae_param_index (l, ws, prefix, "bias"),
    .groups = dae_groupnorm_groups (channels),
  };
  return c;
}

/* Parameter value and gradient views (the gradient is NULL outside training). */
static inline const DaeTensor *
P (const DaeRunCtx * c, int idx)
{
  return idx >= 0 ? &c->p[idx] : NULL;
}

static inline const DaeTensor *
G (const DaeRunCtx * c, int idx)
{
  return (c->g && idx >= 0) ? &c->g[idx] : NULL;
}

void
dae_conv_layer_forward (const DaeRunCtx * c, const DaeConvLayer * l, const DaeTensor * y,
    const DaeTensor * x, bool accumulate)
{
  DaeConvArgs a = {.ksize = l->ksize,.accumulate = accumulate };
  dae_conv2d_forward (c->s, y, x, P (c, l->w), P (c, l->b), &a);
}

void
dae_conv_layer_backward (const DaeRunCtx * c, const DaeConvLayer * l, const DaeTensor * dx,
    const DaeTensor * dy, const DaeTensor * x)
{
  DaeConvArgs a = {.ksize = l->ksize };
  dae_conv2d_backward (c->s, dx, G (c, l->w), G (c, l->b), dy, x, P (c, l->w), &a);
}

void
dae_linear_layer_forward (const DaeRunCtx * c, const DaeLinearLayer * l, const DaeTensor * y,
    const DaeTensor * x)
{
  dae_linear_forward (c->s, y, x, P (c, l->w), P (c, l->b), false);
}

void
dae_linear_layer_backward (const DaeRunCtx * c, const DaeLinearLayer * l,
    const DaeTensor * dx, const DaeTensor * dy, const DaeTensor * x)
{
  dae_linear_backward (c->s, dx, G (c, l->w), G (c, l->b), dy, x, P (c, l->w));
}

static DaeGroupNormArgs
norm_args (const DaeRunCtx * c, const DaeNormLayer * l, bool silu)
{
  DaeGroupNormArgs a = {
    .groups = l->groups,
    .eps = NORM_EPS,
    .gamma = P (c, l->gamma),
    .beta = P (c, l->beta),
    .silu = silu,
  };
  return a;
}

static DaeGroupNormGrads
norm_grads (const DaeRunCtx * c, const DaeNormLayer * l)
{
  DaeGroupNormGrads g = {.dgamma = G (c, l->gamma),.dbeta = G (c, l->beta) };
  return g;
}

static void
zero (DaeStream * s, const DaeTensor * t)
{
  if (t)
    dae_fill (s, t, 0.0f);
}

/* ---- ResBlock ---------------------------------------------------------------------------- */

static void
resblock_plan_params (DaeResBlock * b, const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix)
{
  char name[200];
  g_snprintf (name, sizeof name, "%s.in_layers.0", prefix);
  b->in_norm = dae_norm_layer (l, ws, name, b->cin);
  g_snprintf (name, sizeof name, "%s.in_layers.2", prefix);
  b->in_conv = dae_conv_layer (l, ws, name, 3);
  b->skip.w = b->skip.b = -1;
  if (b->cin != b->cout) {
    g_snprintf (name, sizeof name, "%s.skip_connection", prefix);
    b->skip = dae_conv_layer (l, ws, name, 1);
  }
  if (!b->conditioned)
    return;
  g_snprintf (name, sizeof name, "%s.emb_layers.1", prefix);
  b->emb = dae_linear_layer (l, ws, name);
  g_snprintf (name, sizeof name, "%s.cond_emb_layers.1", prefix);
  b->cond = dae_linear_layer (l, ws, name);
  g_snprintf (name, sizeof name, "%s.out_layers.0", prefix);
  b->out_norm = dae_norm_layer (l, ws, name, b->cout);
  g_snprintf (name, sizeof name, "%s.out_layers.3", prefix);
  b->out_conv = dae_conv_layer (l, ws, name, 3);
}

void
dae_resblock_plan (DaeResBlock * b, const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix, int n, int h, int w)
{
  resblock_plan_params (b, l, ws, prefix);
  int ho = h, wo = w;
  if (b->resample == DAE_RESAMPLE_DOWN) {
    ho = h / 2;
    wo = w / 2;
  } else if (b->resample == DAE_RESAMPLE_UP) {
    ho = 2 * h;
    wo = 2 * w;
  }
  int cin = b->cin, cout = b->cout;
  b->a1 = dae_ws_temp (ws, "rb.a1", n, cin, h, w);
  b->st1 = dae_ws_temp (ws, "rb.st1", n, b->in_norm.groups, 2, 1);
  b->a1r = b->a1;
  b->xr = b->x;
  if (b->resample != DAE_RESAMPLE_NONE) {
    b->a1r = dae_ws_temp (ws, "rb.a1r", n, cin, ho, wo);
    b->xr = dae_ws_temp (ws, "rb.xr", n, cin, ho, wo);
    b->d_a1r = dae_ws_grad_temp (ws, "rb.d_a1r", n, cin, ho, wo);
    b->d_xr = dae_ws_grad_temp (ws, "rb.d_xr", n, cin, ho, wo);
  }
  b->d_a1 = dae_ws_grad_temp (ws, "rb.d_a1", n, cin, h, w);
  if (b->conditioned) {
    b->h1 = dae_ws_temp (ws, "rb.h1", n, cout, ho, wo);
    b->ss = dae_ws_temp (ws, "rb.ss", n, 2 * cout, 1, 1);
    b->zs = dae_ws_temp (ws, "rb.zs", n, cout, 1, 1);
    b->st2 = dae_ws_temp (ws, "rb.st2", n, b->out_norm.groups, 2, 1);
    b->a2 = dae_ws_temp (ws, "rb.a2", n, cout, ho, wo);
    b->d_h1 = dae_ws_grad_temp (ws, "rb.d_h1", n, cout, ho, wo);
    b->d_ss = dae_ws_grad_temp (ws, "rb.d_ss", n, 2 * cout, 1, 1);
    b->d_zs = dae_ws_grad_temp (ws, "rb.d_zs", n, cout, 1, 1);
    b->d_a2 = dae_ws_grad_temp (ws, "rb.d_a2", n, cout, ho, wo);
  }
  b->out = dae_ws_keep (ws, n, cout, ho, wo);
  b->d_out = ws->training ? dae_ws_keep (ws, n, cout, ho, wo) : NULL;
}

static void
resample_forward (DaeStream * s, DaeResample r, const DaeTensor * y, const DaeTensor * x)
{
  if (r == DAE_RESAMPLE_DOWN)
    dae_avgpool2_forward (s, y, x);
  else if (r == DAE_RESAMPLE_UP)
    dae_upsample2_forward (s, y, x);
}

static void
resample_backward (DaeStream * s, DaeResample r, const DaeTensor * dx, const DaeTensor * dy)
{
  if (r == DAE_RESAMPLE_DOWN)
    dae_avgpool2_backward (s, dx, dy);
  else if (r == DAE_RESAMPLE_UP)
    dae_upsample2_backward (s, dx, dy);
}

static DaeGroupNormArgs
out_norm_args (const DaeRunCtx * c, const DaeResBlock * b)
{
  DaeGroupNormArgs a = norm_args (c, &b->out_norm, true);
  a.scaleshift = b->ss;
  a.zscale = b->zs;
  if (c->training && c->dropout > 0.0f) {
    a.dropout = c->dropout;
    a.seed = dae_hash32 (c->seed ^ (0x9e3779b9u * (uint32_t) (b->index + 1)));
  }
  return a;
}

void
dae_resblock_forward (const DaeRunCtx * c, DaeResBlock * b)
{
  DaeStream *s = c->s;
  DaeGroupNormArgs in_args = norm_args (c, &b->in_norm, true);
  dae_groupnorm_forward (s, b->a1, b->st1, b->x, &in_args);
  resample_forward (s, b->resample, b->a1r, b->a1);
  resample_forward (s, b->resample, b->xr, b->x);
  /* out = skip(xr) first, then the main branch's last convolution adds into it. */
  if (b->skip.w >= 0)
    dae_conv_layer_forward (c, &b->skip, b->out, b->xr, false);
  else
    dae_copy (s, b->out, b->xr);
  if (!b->conditioned) {
    dae_conv_layer_forward (c, &b->in_conv, b->out, b->a1r, true);
    return;
  }
  dae_conv_layer_forward (c, &b->in_conv, b->h1, b->a1r, false);
  dae_linear_layer_forward (c, &b->emb, b->ss, b->silu_temb);
  dae_linear_layer_forward (c, &b->cond, b->zs, b->silu_z);
  DaeGroupNormArgs out_args = out_norm_args (c, b);
  dae_groupnorm_forward (s, b->a2, b->st2, b->h1, &out_args);
  dae_conv_layer_forward (c, &b->out_conv, b->out, b->a2, true);
}

/* Gradient of the main branch's first half output (h1), from d_out through the second half. */
static const DaeTensor *
resblock_backward_second_half (const DaeRunCtx * c, DaeResBlock * b)
{
  DaeStream *s = c->s;
  if (!b->conditioned)
    return b->d_out;
  zero (s, b->d_a2);
  dae_conv_layer_backward (c, &b->out_conv, b->d_a2, b->d_out, b->a2);
  zero (s, b->d_h1);
  zero (s, b->d_ss);
  zero (s, b->d_zs);
  DaeGroupNormArgs args = out_norm_args (c, b);
  DaeGroupNormGrads g = norm_grads (c, &b->out_norm);
  g.dscaleshift = b->d_ss;
  g.dzscale = b->d_zs;
  dae_groupnorm_backward (s, b->d_h1, &g, b->d_a2, b->h1, b->st2, &args);
  dae_linear_layer_backward (c, &b->emb, b->d_silu_temb, b->d_ss, b->silu_temb);
  dae_linear_layer_backward (c, &b->cond, b->d_silu_z, b->d_zs, b->silu_z);
  return b->d_h1;
}

void
dae_resblock_backward (const DaeRunCtx * c, DaeResBlock * b)
{
  DaeStream *s = c->s;
  const DaeTensor *d_h1 = resblock_backward_second_half (c, b);
  bool resampled = b->resample != DAE_RESAMPLE_NONE;
  /* Skip branch: into d_xr (resampled) or straight into dx. */
  const DaeTensor *d_xr = resampled ? b->d_xr : b->dx;
  zero (s, resampled ? b->d_xr : NULL);
  if (b->skip.w >= 0)
    dae_conv_layer_backward (c, &b->skip, d_xr, b->d_out, b->xr);
  else if (d_xr)
    dae_axpy (s, d_xr, b->d_out, 1.0f);
  /* Main branch, first half. */
  const DaeTensor *d_a1r = resampled ? b->d_a1r : b->d_a1;
  zero (s, d_a1r);
  dae_conv_layer_backward (c, &b->in_conv, d_a1r, d_h1, b->a1r);
  if (resampled) {
    zero (s, b->d_a1);
    resample_backward (s, b->resample, b->d_a1, b->d_a1r);
    if (b->dx)
      resample_backward (s, b->resample, b->dx, b->d_xr);
  }
  DaeGroupNormArgs args = norm_args (c, &b->in_norm, true);
  DaeGroupNormGrads g = norm_grads (c, &b->in_norm);
  dae_groupnorm_backward (s, b->dx, &g, b->d_a1, b->x, b->st1, &args);
}

/* ---- attention block --------------------------------------------------------------------- */

void
dae_attnblock_plan (DaeAttnBlock * b, const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix, int n, int channels, int h, int w)
{
  char name[200];
  b->channels = channels;
  g_snprintf (name, sizeof name, "%s.norm", prefix);
  b->norm = dae_norm_layer (l, ws, name, channels);
  g_snprintf (name, sizeof name, "%s.qkv", prefix);
  b->qkv = dae_conv_layer (l, ws, name, 1);
  g_snprintf (name, sizeof name, "%s.proj_out", prefix);
  b->proj = dae_conv_layer (l, ws, name, 1);
  int T = h * w;
  b->a = dae_ws_temp (ws, "at.a", n, channels, h, w);
  b->st = dae_ws_temp (ws, "at.st", n, b->norm.groups, 2, 1);
  b->qkvt = dae_ws_temp (ws, "at.qkv", n, 3 * channels, h, w);
  b->probs = dae_ws_temp (ws, "at.probs", n, 1, T, T);
  b->o = dae_ws_temp (ws, "at.o", n, channels, h, w);
  b->out = dae_ws_keep (ws, n, channels, h, w);
  b->d_out = ws->training ? dae_ws_keep (ws, n, channels, h, w) : NULL;
  b->d_a = dae_ws_grad_temp (ws, "at.d_a", n, channels, h, w);
  b->d_qkv = dae_ws_grad_temp (ws, "at.d_qkv", n, 3 * channels, h, w);
  b->d_o = dae_ws_grad_temp (ws, "at.d_o", n, channels, h, w);
}

void
dae_attnblock_forward (const DaeRunCtx * c, DaeAttnBlock * b)
{
  DaeStream *s = c->s;
  DaeGroupNormArgs args = norm_args (c, &b->norm, false);
  dae_groupnorm_forward (s, b->a, b->st, b->x, &args);
  dae_conv_layer_forward (c, &b->qkv, b->qkvt, b->a, false);
  dae_attention_forward (s, b->o, b->probs, b->qkvt);
  dae_copy (s, b->out, b->x);
  dae_conv_layer_forward (c, &b->proj, b->out, b->o, true);
}

void
dae_attnblock_backward (const DaeRunCtx * c, DaeAttnBlock * b)
{
  DaeStream *s = c->s;
  if (b->dx)
    dae_axpy (s, b->dx, b->d_out, 1.0f);
  zero (s, b->d_o);
  dae_conv_layer_backward (c, &b->proj, b->d_o, b->d_out, b->o);
  zero (s, b->d_qkv);
  dae_attention_backward (s, b->d_qkv, b->d_o, b->qkvt, b->probs);
  zero (s, b->d_a);
  dae_conv_layer_backward (c, &b->qkv, b->d_a, b->d_qkv, b->a);
  DaeGroupNormArgs args = norm_args (c, &b->norm, false);
  DaeGroupNormGrads g = norm_grads (c, &b->norm);
  dae_groupnorm_backward (s, b->dx, &g, b->d_a, b->x, b->st, &args);
}

/* ---- time embedding ---------------------------------------------------------------------- */

void
dae_time_embed_plan (DaeTimeEmbed * e, const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix, int n, int dim, int width)
{
  char name[200];
  e->dim = dim;
  g_snprintf (name, sizeof name, "%s.0", prefix);
  e->lin1 = dae_linear_layer (l, ws, name);
  g_snprintf (name, sizeof name, "%s.2", prefix);
  e->lin2 = dae_linear_layer (l, ws, name);
  e->sin = dae_ws_keep (ws, n, dim, 1, 1);
  e->h = dae_ws_keep (ws, n, width, 1, 1);
  e->sh = dae_ws_keep (ws, n, width, 1, 1);
  e->temb = dae_ws_keep (ws, n, width, 1, 1);
  e->silu_temb = dae_ws_keep (ws, n, width, 1, 1);
  if (ws->training) {
    e->d_silu_temb = dae_ws_keep (ws, n, width, 1, 1);
    e->d_temb = dae_ws_keep (ws, n, width, 1, 1);
    e->d_sh = dae_ws_keep (ws, n, width, 1, 1);
    e->d_h = dae_ws_keep (ws, n, width, 1, 1);
  }
}

void
dae_time_embed_forward (const DaeRunCtx * c, DaeTimeEmbed * e, const DaeTensor * t)
{
  dae_timestep_embedding (c->s, e->sin, t);
  dae_linear_layer_forward (c, &e->lin1, e->h, e->sin);
  dae_silu_forward (c->s, e->sh, e->h);
  dae_linear_layer_forward (c, &e->lin2, e->temb, e->sh);
  dae_silu_forward (c->s, e->silu_temb, e->temb);
}

void
dae_time_embed_backward (const DaeRunCtx * c, DaeTimeEmbed * e)
{
  DaeStream *s = c->s;
  zero (s, e->d_temb);
  dae_silu_backward (s, e->d_temb, e->d_silu_temb, e->temb);
  zero (s, e->d_sh);
  dae_linear_layer_backward (c, &e->lin2, e->d_sh, e->d_temb, e->sh);
  zero (s, e->d_h);
  dae_silu_backward (s, e->d_h, e->d_sh, e->h);
  dae_linear_layer_backward (c, &e->lin1, NULL, e->d_h, e->sin);
}
