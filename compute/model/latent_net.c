/* The latent net eps(z_t, t) (DESIGN.md section 2): an MLP whose layers after the first also
 * see the input z_t, each modulated by the time embedding before its LayerNorm. */
#include "model/net_private.h"

#include <stdio.h>
#include <stdlib.h>

void
dae_latent_plan (DaeNetRun * run)
{
  const DaeModelConfig *cfg = &run->net->cfg;
  const DaeParamLayout *l = &run->net->layout;
  DaeLatentState *st = &run->latent;
  DaeWorkspace *ws = &run->ws;
  int n = run->n, zc = cfg->z_channels, hidden = cfg->latent.hidden_channels;
  int L = cfg->latent.num_layers;
  char name[160];

  dae_time_embed_plan (&st->temb, l, ws, "latent_net.time_embed", n,
      cfg->latent.time_channels, zc);
  st->n_layers = L;
  st->layers = calloc ((size_t) L, sizeof *st->layers);
  st->norms = calloc ((size_t) L, sizeof *st->norms);
  for (int i = 0; i < L; i++) {
    DaeLatentLayer *y = &st->layers[i];
    bool last = i == L - 1;
    int width = last ? zc : hidden;
    g_snprintf (name, sizeof name, "latent_net.layers.%d.linear", i);
    y->lin = dae_linear_layer (l, ws, name);
    y->emb.w = y->emb.b = -1;
    if (i > 0) {
      y->in = dae_ws_keep (ws, n, hidden + zc, 1, 1);
      y->d_in = dae_ws_grad_temp (ws, "lat.d_in", n, hidden + zc, 1, 1);
    }
    if (last)
      continue;                 /* the last layer writes the caller's eps directly */
    y->pre = dae_ws_keep (ws, n, width, 1, 1);
    g_snprintf (name, sizeof name, "latent_net.layers.%d.linear_emb", i);
    y->emb = dae_linear_layer (l, ws, name);
    g_snprintf (name, sizeof name, "latent_net.layers.%d.norm", i);
    st->norms[i] = dae_norm_layer (l, ws, name, width);
    y->c = dae_ws_keep (ws, n, width, 1, 1);
    y->st = dae_ws_keep (ws, n, 1, 2, 1);
    y->y = dae_ws_keep (ws, n, width, 1, 1);
    if (run->training) {
      y->d_pre = dae_ws_grad_temp (ws, "lat.d_pre", n, width, 1, 1);
      y->d_c = dae_ws_grad_temp (ws, "lat.d_c", n, width, 1, 1);
      y->d_y = dae_ws_keep (ws, n, width, 1, 1);
    }
  }
}

void
dae_latent_state_clear (DaeLatentState * st)
{
  free (st->layers);
  free (st->norms);
  st->layers = NULL;
  st->norms = NULL;
}

static DaeLayerNormArgs
layer_norm_args (const DaeRunCtx * c, const DaeNormLayer * norm, const DaeLatentLayer * y,
    int index)
{
  DaeLayerNormArgs a = {
    .eps = 1e-5f,
    .gamma = &c->p[norm->gamma],
    .beta = &c->p[norm->beta],
    .prescale = y->c,
    .silu = true,
  };
  if (c->training && c->dropout > 0.0f) {
    a.dropout = c->dropout;
    a.seed = dae_hash32 (c->seed ^ (0x85ebca6bu * (uint32_t) (index + 1)));
  }
  return a;
}

/* Copies [h, z_t] into the layer's input. */
static void
concat_input (DaeStream * s, const DaeLatentLayer * y, const DaeTensor * h,
    const DaeTensor * z_t)
{
  DaeTensor vh = dae_tensor_view_channels (y->in, 0, h->c);
  DaeTensor vz = dae_tensor_view_channels (y->in, h->c, z_t->c);
  dae_copy (s, &vh, h);
  dae_copy (s, &vz, z_t);
}

void
dae_latent_forward (DaeNetRun * run, DaeStream * s, const DaeTensor * eps,
    const DaeTensor * z_t, const DaeTensor * t)
{
  DaeLatentState *st = &run->latent;
  DaeRunCtx c = dae_net_run_ctx (run, s);
  st->z_in = z_t;
  dae_time_embed_forward (&c, &st->temb, t);
  const DaeTensor *h = z_t;
  for (int i = 0; i < st->n_layers; i++) {
    DaeLatentLayer *y = &st->layers[i];
    const DaeTensor *in = z_t;
    if (i > 0) {
      concat_input (s, y, h, z_t);
      in = y->in;
    }
    if (i == st->n_layers - 1) {
      dae_linear_layer_forward (&c, &y->lin, eps, in);
      break;
    }
    dae_linear_layer_forward (&c, &y->lin, y->pre, in);
    dae_linear_layer_forward (&c, &y->emb, y->c, st->temb.silu_temb);
    DaeLayerNormArgs a = layer_norm_args (&c, &st->norms[i], y, i);
    dae_layernorm_forward (s, y->y, y->st, y->pre, &a);
    h = y->y;
  }
}

void
dae_latent_backward (DaeNetRun * run, DaeStream * s, const DaeTensor * deps,
    const DaeTensor * dz_t)
{
  DaeLatentState *st = &run->latent;
  if (!run->training) {
    dae_stream_fail (s, DAE_ERR_INVALID, "latent_backward: the run was not made for training");
    return;
  }
  DaeRunCtx c = dae_net_run_ctx (run, s);
  dae_fill (s, st->temb.d_silu_temb, 0.0f);
  for (int i = 0; i < st->n_layers - 1; i++)
    dae_fill (s, st->layers[i].d_y, 0.0f);
  for (int i = st->n_layers - 1; i >= 0; i--) {
    DaeLatentLayer *y = &st->layers[i];
    const DaeTensor *d_pre = deps;
    if (i < st->n_layers - 1) {
      dae_fill (s, y->d_pre, 0.0f);
      dae_fill (s, y->d_c, 0.0f);
      DaeLayerNormArgs a = layer_norm_args (&c, &st->norms[i], y, i);
      DaeLayerNormGrads g = {
        .dgamma = &c.g[st->norms[i].gamma],
        .dbeta = &c.g[st->norms[i].beta],
        .dprescale = y->d_c,
      };
      dae_layernorm_backward (s, y->d_pre, &g, y->d_y, y->pre, y->st, &a);
      dae_linear_layer_backward (&c, &y->emb, st->temb.d_silu_temb, y->d_c,
          st->temb.silu_temb);
      d_pre = y->d_pre;
    }
    if (i == 0) {
      dae_linear_layer_backward (&c, &y->lin, dz_t, d_pre, st->z_in);
      break;
    }
    dae_fill (s, y->d_in, 0.0f);
    dae_linear_layer_backward (&c, &y->lin, y->d_in, d_pre, y->in);
    const DaeTensor *d_h = st->layers[i - 1].d_y;
    DaeTensor vh = dae_tensor_view_channels (y->d_in, 0, d_h->c);
    DaeTensor vz = dae_tensor_view_channels (y->d_in, d_h->c, st->z_in->c);
    dae_axpy (s, d_h, &vh, 1.0f);
    if (dz_t)
      dae_axpy (s, dz_t, &vz, 1.0f);
  }
  dae_time_embed_backward (&c, &st->temb);
}
