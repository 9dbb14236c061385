/* DaeNet (weights on a backend) and DaeNetRun (activations for one thread). */
#include "model/net_private.h"

#include <stdlib.h>
#include <string.h>

G_STATIC_ASSERT ((int) DAE_NET_UNET == (int) DAE_PARAM_NET_DECODER);
G_STATIC_ASSERT ((int) DAE_NET_ENCODER == (int) DAE_PARAM_NET_ENCODER);
G_STATIC_ASSERT ((int) DAE_NET_LATENT == (int) DAE_PARAM_NET_LATENT);

/* ---- layout ------------------------------------------------------------------------------ */

/* PyTorch shape -> the (n, c, h, w) the ops expect: conv [o,i,k,k] stays, Conv1d [o,i,1] and
 * linear [o,i] become (o,i,1,1), vectors [C] become (1,C,1,1). */
static void
op_shape (const DaeParamSpec * spec, int shape[4])
{
  shape[0] = shape[1] = shape[2] = shape[3] = 1;
  if (spec->ndim == 1) {
    shape[1] = spec->dims[0];
    return;
  }
  for (int d = 0; d < spec->ndim && d < 4; d++)
    shape[d] = spec->dims[d];
}

static DaeStatus
layout_build (DaeParamLayout * l, const DaeModelConfig * cfg, DaeNetKind kind, DaeError * err)
{
  DaeParamList *list = NULL;
  if (dae_param_list_new (cfg, &list, err) != DAE_OK)
    return err->code;
  size_t first, end;
  dae_param_list_range (list, (DaeParamNet) kind, &first, &end);
  size_t base = dae_param_list_offset (list, (DaeParamNet) kind);
  l->count = (int) (end - first);
  l->names = calloc ((size_t) l->count + 1, sizeof *l->names);
  l->shape = calloc ((size_t) l->count + 1, sizeof *l->shape);
  l->offset = calloc ((size_t) l->count + 1, sizeof *l->offset);
  l->index = g_hash_table_new (g_str_hash, g_str_equal);
  for (int i = 0; i < l->count; i++) {
    const DaeParamSpec *spec = dae_param_list_get (list, first + (size_t) i);
    l->names[i] = g_strdup (spec->name);
    op_shape (spec, l->shape[i]);
    l->offset[i] = spec->offset - base;
    g_hash_table_insert (l->index, l->names[i], GINT_TO_POINTER (i + 1));
  }
  l->total = dae_param_list_numel (list, (DaeParamNet) kind);
  dae_param_list_free (list);
  return DAE_OK;
}

static void
layout_clear (DaeParamLayout * l)
{
  for (int i = 0; i < l->count; i++)
    g_free (l->names[i]);
  free (l->names);
  free (l->shape);
  free (l->offset);
  if (l->index)
    g_hash_table_destroy (l->index);
  memset (l, 0, sizeof *l);
}

/* View of parameter i inside flat (the values or the gradients). */
static DaeTensor
layout_view (const DaeParamLayout * l, const DaeTensor * flat, int i)
{
  DaeTensor v = *flat;
  v.owned = false;
  v.offset = flat->offset + l->offset[i];
  v.n = l->shape[i][0];
  v.c = l->shape[i][1];
  v.h = l->shape[i][2];
  v.w = l->shape[i][3];
  v.nstride = (size_t) v.c * v.h * v.w;
  return v;
}

static DaeTensor *
layout_views (const DaeParamLayout * l, const DaeTensor * flat)
{
  DaeTensor *views = calloc ((size_t) l->count + 1, sizeof *views);
  for (int i = 0; i < l->count; i++)
    views[i] = layout_view (l, flat, i);
  return views;
}

/* ---- networks ------------------------------------------------------------------------------ */

DaeStatus
dae_net_new (DaeBackend * be, const DaeModelConfig * cfg, DaeNetKind kind,
    const float *values, DaeNet ** out, DaeError * err)
{
  *out = NULL;
  if (kind == DAE_NET_LATENT && !cfg->latent.present)
    return dae_error_set (err, DAE_ERR_INVALID, "the model config has no latent net");
  DaeNet *net = calloc (1, sizeof *net);
  net->be = dae_backend_ref (be);
  net->cfg = *cfg;
  net->kind = kind;
  if (layout_build (&net->layout, cfg, kind, err) != DAE_OK) {
    dae_net_free (net);
    return err->code;
  }
  net->params = dae_tensor_new (be, 1, 1, 1, (int) net->layout.total, err);
  DaeStream *s = NULL;
  if (!net->params || dae_stream_new (be, &s, err) != DAE_OK) {
    dae_net_free (net);
    return err->code;
  }
  if (values)
    dae_tensor_write (s, net->params, values);
  else
    dae_fill (s, net->params, 0.0f);
  DaeStatus status = dae_stream_sync (s, err);
  dae_stream_free (s);
  if (status != DAE_OK) {
    dae_net_free (net);
    return status;
  }
  *out = net;
  return DAE_OK;
}

void
dae_net_free (DaeNet * net)
{
  if (!net)
    return;
  dae_tensor_free (net->params);
  layout_clear (&net->layout);
  dae_backend_unref (net->be);
  free (net);
}

const DaeModelConfig *
dae_net_config (const DaeNet * net)
{
  return &net->cfg;
}

DaeNetKind
dae_net_kind (const DaeNet * net)
{
  return net->kind;
}

const DaeParamLayout *
dae_net_layout (const DaeNet * net)
{
  return &net->layout;
}

DaeTensor *
dae_net_params (DaeNet * net)
{
  return net->params;
}

bool
dae_net_param_view (const DaeNet * net, const DaeTensor * flat, const char *name,
    DaeTensor * out)
{
  int idx = GPOINTER_TO_INT (g_hash_table_lookup (net->layout.index, name)) - 1;
  if (idx < 0)
    return false;
  *out = layout_view (&net->layout, flat, idx);
  return true;
}

/* ---- runs ---------------------------------------------------------------------------------- */

DaeRunCtx
dae_net_run_ctx (DaeNetRun * run, DaeStream * s)
{
  DaeRunCtx c = {
    .s = s,
    .p = run->pviews,
    .g = run->gviews,
    .training = run->training,
    .dropout = run->training ? run->dropout : 0.0f,
    .seed = run->seed,
  };
  return c;
}

DaeStatus
dae_net_run_new (DaeNet * net, int n, bool training, DaeNetRun ** out, DaeError * err)
{
  *out = NULL;
  if (n <= 0)
    return dae_error_set (err, DAE_ERR_INVALID, "batch size %d is not positive", n);
  DaeNetRun *run = calloc (1, sizeof *run);
  run->net = net;
  run->n = n;
  run->training = training;
  run->dropout = (float) (net->kind == DAE_NET_LATENT ? net->cfg.latent.dropout :
      net->kind == DAE_NET_UNET ? net->cfg.dropout : 0.0);
  dae_ws_init (&run->ws, net->be, training);
  run->pviews = layout_views (&net->layout, net->params);
  if (training) {
    run->grads = dae_ws_keep (&run->ws, 1, 1, 1, (int) net->layout.total);
    if (run->grads)
      run->gviews = layout_views (&net->layout, run->grads);
  }
  switch (net->kind) {
    case DAE_NET_UNET:
      dae_unet_plan (run);
      break;
    case DAE_NET_ENCODER:
      dae_encoder_plan (run);
      break;
    case DAE_NET_LATENT:
      dae_latent_plan (run);
      break;
  }
  if (run->ws.err.code) {
    DaeStatus code = dae_error_propagate (err, &run->ws.err);
    dae_error_prefix (err, "preparing a batch of %d", n);
    dae_net_run_free (run);
    return code;
  }
  *out = run;
  return DAE_OK;
}

void
dae_net_run_free (DaeNetRun * run)
{
  if (!run)
    return;
  dae_graph_clear (&run->unet.g);
  dae_latent_state_clear (&run->latent);
  free (run->pviews);
  free (run->gviews);
  dae_ws_clear (&run->ws);
  free (run);
}

int
dae_net_run_batch (const DaeNetRun * run)
{
  return run->n;
}

void
dae_net_run_set_seed (DaeNetRun * run, uint32_t seed)
{
  run->seed = seed;
}

void
dae_net_run_set_dropout (DaeNetRun * run, float p)
{
  run->dropout = p;
}

DaeTensor *
dae_net_run_grads (DaeNetRun * run)
{
  return run->grads;
}

void
dae_net_run_zero_grad (DaeNetRun * run, DaeStream * s)
{
  if (run->grads)
    dae_fill (s, run->grads, 0.0f);
}

size_t
dae_net_run_bytes (const DaeNetRun * run)
{
  return run->ws.bytes;
}
