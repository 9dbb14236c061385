/* The decoder UNet eps(x_t, t, z_sem) (DESIGN.md section 2): forward and backward. */
#include "model/net_private.h"

#include <stdio.h>

static void
plan_up_path (DaeGraph * g, const DaeModelConfig * cfg, GPtrArray * skips)
{
  char name[160];
  int k = 0;
  for (int level = cfg->n_channel_mult - 1; level >= 0; level--) {
    int ch = cfg->base_channels * cfg->channel_mult[level];
    for (int r = 0; r <= cfg->num_res_blocks; r++, k++) {
      const DaeTensor *d_skip = g_ptr_array_steal_index (skips, skips->len - 1);
      const DaeTensor *skip = g_ptr_array_steal_index (skips, skips->len - 1);
      dae_graph_add_cat (g, skip, d_skip);
      g_snprintf (name, sizeof name, "output_blocks.%d.0", k);
      dae_graph_add_res (g, name, ch, DAE_RESAMPLE_NONE);
      int j = 1;
      for (int a = 0; a < cfg->n_attn_resolutions; a++) {
        if (cfg->attn_resolutions[a] == g->cur_h) {
          g_snprintf (name, sizeof name, "output_blocks.%d.1", k);
          dae_graph_add_attn (g, name);
          j = 2;
        }
      }
      if (level > 0 && r == cfg->num_res_blocks) {
        g_snprintf (name, sizeof name, "output_blocks.%d.%d", k, j);
        dae_graph_add_res (g, name, ch, DAE_RESAMPLE_UP);
      }
    }
  }
}

void
dae_unet_plan (DaeNetRun * run)
{
  const DaeModelConfig *cfg = &run->net->cfg;
  const DaeParamLayout *l = &run->net->layout;
  DaeUNetState *u = &run->unet;
  DaeWorkspace *ws = &run->ws;
  int n = run->n, base = cfg->base_channels, size = cfg->image_size;

  dae_time_embed_plan (&u->temb, l, ws, "time_embed.time_embed", n, base, cfg->embed_channels);
  u->silu_z = dae_ws_keep (ws, n, cfg->z_channels, 1, 1);
  u->d_silu_z = run->training ? dae_ws_keep (ws, n, cfg->z_channels, 1, 1) : NULL;
  u->conv_in = dae_conv_layer (l, ws, "input_blocks.0.0", 3);
  u->h0 = dae_ws_keep (ws, n, base, size, size);
  u->d_h0 = run->training ? dae_ws_keep (ws, n, base, size, size) : NULL;

  DaeGraph *g = &u->g;
  dae_graph_init (g, l, ws, n);
  g->conditioned = true;
  g->silu_temb = u->temb.silu_temb;
  g->d_silu_temb = u->temb.d_silu_temb;
  g->silu_z = u->silu_z;
  g->d_silu_z = u->d_silu_z;
  g->cur = u->h0;
  g->d_cur = u->d_h0;
  g->cur_c = base;
  g->cur_h = g->cur_w = size;
  GPtrArray *skips = g_ptr_array_new ();
  dae_graph_add_down_and_middle (g, "", cfg->channel_mult, cfg->n_channel_mult,
      cfg->num_res_blocks, cfg->attn_resolutions, cfg->n_attn_resolutions, base, skips);
  plan_up_path (g, cfg, skips);
  g_ptr_array_free (skips, TRUE);

  u->out_norm = dae_norm_layer (l, ws, "out.0", base);
  u->out_conv = dae_conv_layer (l, ws, "out.2", 3);
  u->o1 = dae_ws_temp (ws, "out.o1", n, base, size, size);
  u->st = dae_ws_temp (ws, "out.st", n, u->out_norm.groups, 2, 1);
  u->d_o1 = dae_ws_grad_temp (ws, "out.d_o1", n, base, size, size);
}

static DaeGroupNormArgs
head_norm_args (const DaeRunCtx * c, const DaeNormLayer * l)
{
  DaeGroupNormArgs a = {
    .groups = l->groups,
    .eps = 1e-5f,
    .gamma = &c->p[l->gamma],
    .beta = &c->p[l->beta],
    .silu = true,
  };
  return a;
}

void
dae_unet_forward (DaeNetRun * run, DaeStream * s, const DaeTensor * eps, const DaeTensor * x_t,
    const DaeTensor * t, const DaeTensor * z_sem)
{
  DaeUNetState *u = &run->unet;
  DaeRunCtx c = dae_net_run_ctx (run, s);
  u->x_in = x_t;
  u->z_in = z_sem;
  dae_time_embed_forward (&c, &u->temb, t);
  dae_silu_forward (s, u->silu_z, z_sem);
  dae_conv_layer_forward (&c, &u->conv_in, u->h0, x_t, false);
  dae_graph_forward (&u->g, &c);
  DaeGroupNormArgs a = head_norm_args (&c, &u->out_norm);
  dae_groupnorm_forward (s, u->o1, u->st, dae_graph_out (&u->g), &a);
  dae_conv_layer_forward (&c, &u->out_conv, eps, u->o1, false);
}

void
dae_unet_backward (DaeNetRun * run, DaeStream * s, const DaeTensor * deps,
    const DaeTensor * dx_t, const DaeTensor * dz_sem)
{
  DaeUNetState *u = &run->unet;
  if (!run->training) {
    dae_stream_fail (s, DAE_ERR_INVALID, "unet_backward: the run was not made for training");
    return;
  }
  DaeRunCtx c = dae_net_run_ctx (run, s);
  dae_graph_zero_grads (&u->g, s);
  dae_fill (s, u->d_h0, 0.0f);
  dae_fill (s, u->temb.d_silu_temb, 0.0f);
  dae_fill (s, u->d_silu_z, 0.0f);
  dae_fill (s, u->d_o1, 0.0f);
  dae_conv_layer_backward (&c, &u->out_conv, u->d_o1, deps, u->o1);
  DaeGroupNormArgs a = head_norm_args (&c, &u->out_norm);
  DaeGroupNormGrads gr = {.dgamma = &c.g[u->out_norm.gamma],.dbeta = &c.g[u->out_norm.beta] };
  dae_groupnorm_backward (s, dae_graph_d_out (&u->g), &gr, u->d_o1, dae_graph_out (&u->g),
      u->st, &a);
  dae_graph_backward (&u->g, &c);
  dae_conv_layer_backward (&c, &u->conv_in, dx_t, u->d_h0, u->x_in);
  dae_time_embed_backward (&c, &u->temb);
  if (dz_sem)
    dae_silu_backward (s, dz_sem, u->d_silu_z, u->z_in);
}

/* ---- the semantic encoder: same down path and middle, then GN, SiLU, pool, 1x1 conv ------ */

void
dae_encoder_plan (DaeNetRun * run)
{
  const DaeModelConfig *cfg = &run->net->cfg;
  const DaeParamLayout *l = &run->net->layout;
  DaeUNetState *u = &run->unet;
  DaeWorkspace *ws = &run->ws;
  int n = run->n, base = cfg->base_channels, size = cfg->image_size;

  u->conv_in = dae_conv_layer (l, ws, "encoder.input_blocks.0.0", 3);
  u->h0 = dae_ws_keep (ws, n, base, size, size);
  u->d_h0 = run->training ? dae_ws_keep (ws, n, base, size, size) : NULL;
  DaeGraph *g = &u->g;
  dae_graph_init (g, l, ws, n);
  g->conditioned = false;
  g->cur = u->h0;
  g->d_cur = u->d_h0;
  g->cur_c = base;
  g->cur_h = g->cur_w = size;
  dae_graph_add_down_and_middle (g, "encoder", cfg->enc_channel_mult, cfg->n_enc_channel_mult,
      cfg->num_res_blocks, cfg->attn_resolutions, cfg->n_attn_resolutions, base, NULL);
  int ch = g->cur_c, h = g->cur_h, w = g->cur_w;
  u->out_norm = dae_norm_layer (l, ws, "encoder.out.0", ch);
  u->out_conv = dae_conv_layer (l, ws, "encoder.out.3", 1);
  u->o1 = dae_ws_temp (ws, "enc.o1", n, ch, h, w);
  u->st = dae_ws_temp (ws, "enc.st", n, u->out_norm.groups, 2, 1);
  u->pooled = dae_ws_temp (ws, "enc.pooled", n, ch, 1, 1);
  u->d_o1 = dae_ws_grad_temp (ws, "enc.d_o1", n, ch, h, w);
  u->d_pooled = dae_ws_grad_temp (ws, "enc.d_pooled", n, ch, 1, 1);
}

void
dae_encoder_forward (DaeNetRun * run, DaeStream * s, const DaeTensor * z_sem,
    const DaeTensor * x0)
{
  DaeUNetState *u = &run->unet;
  DaeRunCtx c = dae_net_run_ctx (run, s);
  u->x_in = x0;
  dae_conv_layer_forward (&c, &u->conv_in, u->h0, x0, false);
  dae_graph_forward (&u->g, &c);
  DaeGroupNormArgs a = head_norm_args (&c, &u->out_norm);
  dae_groupnorm_forward (s, u->o1, u->st, dae_graph_out (&u->g), &a);
  dae_global_avgpool_forward (s, u->pooled, u->o1);
  dae_conv_layer_forward (&c, &u->out_conv, z_sem, u->pooled, false);
}

void
dae_encoder_backward (DaeNetRun * run, DaeStream * s, const DaeTensor * dz_sem,
    const DaeTensor * dx0)
{
  DaeUNetState *u = &run->unet;
  if (!run->training) {
    dae_stream_fail (s, DAE_ERR_INVALID, "encoder_backward: the run was not made for training");
    return;
  }
  DaeRunCtx c = dae_net_run_ctx (run, s);
  dae_graph_zero_grads (&u->g, s);
  dae_fill (s, u->d_h0, 0.0f);
  dae_fill (s, u->d_pooled, 0.0f);
  dae_conv_layer_backward (&c, &u->out_conv, u->d_pooled, dz_sem, u->pooled);
  dae_fill (s, u->d_o1, 0.0f);
  dae_global_avgpool_backward (s, u->d_o1, u->d_pooled);
  DaeGroupNormArgs a = head_norm_args (&c, &u->out_norm);
  DaeGroupNormGrads gr = {.dgamma = &c.g[u->out_norm.gamma],.dbeta = &c.g[u->out_norm.beta] };
  dae_groupnorm_backward (s, dae_graph_d_out (&u->g), &gr, u->d_o1, dae_graph_out (&u->g),
      u->st, &a);
  dae_graph_backward (&u->g, &c);
  dae_conv_layer_backward (&c, &u->conv_in, dx0, u->d_h0, u->x_in);
}
