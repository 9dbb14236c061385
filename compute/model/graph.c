/* A sequence of blocks, run forward in order and backward in reverse. */
#include "model/graph.h"

#include <stdio.h>
#include <string.h>

void
dae_graph_init (DaeGraph * g, const DaeParamLayout * layout, DaeWorkspace * ws, int n)
{
  memset (g, 0, sizeof *g);
  /* Nodes hold pointers to each other's tensors, never to nodes, so the array may move. */
  g->nodes = g_array_new (FALSE, TRUE, sizeof (DaeNode));
  g->layout = layout;
  g->ws = ws;
  g->n = n;
}

void
dae_graph_clear (DaeGraph * g)
{
  if (g->nodes)
    g_array_free (g->nodes, TRUE);
  g->nodes = NULL;
}

static DaeNode *
append (DaeGraph * g, DaeNodeKind kind)
{
  DaeNode node = {.kind = kind };
  g_array_append_val (g->nodes, node);
  return &g_array_index (g->nodes, DaeNode, g->nodes->len - 1);
}

static bool
last_is_cat (DaeGraph * g)
{
  return g->nodes->len > 0 &&
      g_array_index (g->nodes, DaeNode, g->nodes->len - 1).kind == DAE_NODE_CAT;
}

void
dae_graph_add_res (DaeGraph * g, const char *prefix, int cout, DaeResample resample)
{
  bool after_cat = last_is_cat (g);
  DaeNode *node = append (g, DAE_NODE_RES);
  DaeResBlock *b = &node->u.res;
  node->dx_is_temp = after_cat;
  b->index = (int) g->nodes->len;
  b->cin = g->cur_c;
  b->cout = cout;
  b->resample = resample;
  b->conditioned = g->conditioned;
  b->x = g->cur;
  b->dx = g->d_cur;
  b->silu_temb = g->silu_temb;
  b->d_silu_temb = g->d_silu_temb;
  b->silu_z = g->silu_z;
  b->d_silu_z = g->d_silu_z;
  dae_resblock_plan (b, g->layout, g->ws, prefix, g->n, g->cur_h, g->cur_w);
  g->cur = b->out;
  g->d_cur = b->d_out;
  g->cur_c = cout;
  if (resample == DAE_RESAMPLE_DOWN) {
    g->cur_h /= 2;
    g->cur_w /= 2;
  } else if (resample == DAE_RESAMPLE_UP) {
    g->cur_h *= 2;
    g->cur_w *= 2;
  }
}

void
dae_graph_add_attn (DaeGraph * g, const char *prefix)
{
  bool after_cat = last_is_cat (g);
  DaeNode *node = append (g, DAE_NODE_ATTN);
  DaeAttnBlock *b = &node->u.attn;
  node->dx_is_temp = after_cat;
  b->x = g->cur;
  b->dx = g->d_cur;
  dae_attnblock_plan (b, g->layout, g->ws, prefix, g->n, g->cur_c, g->cur_h, g->cur_w);
  g->cur = b->out;
  g->d_cur = b->d_out;
}

void
dae_graph_add_cat (DaeGraph * g, const DaeTensor * skip, const DaeTensor * d_skip)
{
  DaeNode *node = append (g, DAE_NODE_CAT);
  DaeCatNode *c = &node->u.cat;
  c->a = g->cur;
  c->da = g->d_cur;
  c->b = skip;
  c->db = d_skip;
  int channels = g->cur_c + skip->c;
  c->out = dae_ws_temp (g->ws, "cat", g->n, channels, g->cur_h, g->cur_w);
  c->d_out = dae_ws_grad_temp (g->ws, "cat.d", g->n, channels, g->cur_h, g->cur_w);
  g->cur = c->out;
  g->d_cur = c->d_out;
  g->cur_c = channels;
}

static bool
has_attention (int resolution, const int *attn_res, int n_attn)
{
  for (int i = 0; i < n_attn; i++)
    if (attn_res[i] == resolution)
      return true;
  return false;
}

/* Remembers the current output as a skip connection. */
static void
push_skip (DaeGraph * g, GPtrArray * skips)
{
  if (!skips)
    return;
  g_ptr_array_add (skips, (gpointer) g->cur);
  g_ptr_array_add (skips, (gpointer) g->d_cur);
}

void
dae_graph_add_down_and_middle (DaeGraph * g, const char *prefix, const int *mult, int levels,
    int num_res_blocks, const int *attn_res, int n_attn, int base, GPtrArray * skips)
{
  char name[160];
  const char *dot = *prefix ? "." : "";
  int k = 1;                    /* input_blocks.0 is the first convolution */
  push_skip (g, skips);
  for (int level = 0; level < levels; level++) {
    int ch = base * mult[level];
    for (int r = 0; r < num_res_blocks; r++, k++) {
      g_snprintf (name, sizeof name, "%s%sinput_blocks.%d.0", prefix, dot, k);
      dae_graph_add_res (g, name, ch, DAE_RESAMPLE_NONE);
      if (has_attention (g->cur_h, attn_res, n_attn)) {
        g_snprintf (name, sizeof name, "%s%sinput_blocks.%d.1", prefix, dot, k);
        dae_graph_add_attn (g, name);
      }
      push_skip (g, skips);
    }
    if (level != levels - 1) {
      g_snprintf (name, sizeof name, "%s%sinput_blocks.%d.0", prefix, dot, k++);
      dae_graph_add_res (g, name, ch, DAE_RESAMPLE_DOWN);
      push_skip (g, skips);
    }
  }
  g_snprintf (name, sizeof name, "%s%smiddle_block.0", prefix, dot);
  dae_graph_add_res (g, name, g->cur_c, DAE_RESAMPLE_NONE);
  g_snprintf (name, sizeof name, "%s%smiddle_block.1", prefix, dot);
  dae_graph_add_attn (g, name);
  g_snprintf (name, sizeof name, "%s%smiddle_block.2", prefix, dot);
  dae_graph_add_res (g, name, g->cur_c, DAE_RESAMPLE_NONE);
}

void
dae_graph_forward (DaeGraph * g, const DaeRunCtx * c)
{
  for (guint i = 0; i < g->nodes->len; i++) {
    DaeNode *node = &g_array_index (g->nodes, DaeNode, i);
    switch (node->kind) {
      case DAE_NODE_RES:
        dae_resblock_forward (c, &node->u.res);
        break;
      case DAE_NODE_ATTN:
        dae_attnblock_forward (c, &node->u.attn);
        break;
      case DAE_NODE_CAT:{
        DaeCatNode *cat = &node->u.cat;
        DaeTensor va = dae_tensor_view_channels (cat->out, 0, cat->a->c);
        DaeTensor vb = dae_tensor_view_channels (cat->out, cat->a->c, cat->b->c);
        dae_copy (c->s, &va, cat->a);
        dae_copy (c->s, &vb, cat->b);
        break;
      }
    }
  }
}

static DaeTensor *
node_d_out (DaeNode * node)
{
  switch (node->kind) {
    case DAE_NODE_RES: return node->u.res.d_out;
    case DAE_NODE_ATTN: return node->u.attn.d_out;
    default: return NULL;       /* a concatenation's gradient is a temporary */
  }
}

static DaeTensor *
node_out (DaeNode * node)
{
  switch (node->kind) {
    case DAE_NODE_RES: return node->u.res.out;
    case DAE_NODE_ATTN: return node->u.attn.out;
    default: return node->u.cat.out;
  }
}

void
dae_graph_zero_grads (DaeGraph * g, DaeStream * s)
{
  for (guint i = 0; i < g->nodes->len; i++) {
    DaeTensor *d = node_d_out (&g_array_index (g->nodes, DaeNode, i));
    if (d)
      dae_fill (s, d, 0.0f);
  }
}

static const DaeTensor *
node_dx (DaeNode * node)
{
  return node->kind == DAE_NODE_RES ? node->u.res.dx : node->u.attn.dx;
}

void
dae_graph_backward (DaeGraph * g, const DaeRunCtx * c)
{
  for (guint i = g->nodes->len; i-- > 0;) {
    DaeNode *node = &g_array_index (g->nodes, DaeNode, i);
    if (node->dx_is_temp && node_dx (node))
      dae_fill (c->s, node_dx (node), 0.0f);
    switch (node->kind) {
      case DAE_NODE_RES:
        dae_resblock_backward (c, &node->u.res);
        break;
      case DAE_NODE_ATTN:
        dae_attnblock_backward (c, &node->u.attn);
        break;
      case DAE_NODE_CAT:{
        DaeCatNode *cat = &node->u.cat;
        DaeTensor va = dae_tensor_view_channels (cat->d_out, 0, cat->a->c);
        DaeTensor vb = dae_tensor_view_channels (cat->d_out, cat->a->c, cat->b->c);
        if (cat->da)
          dae_axpy (c->s, cat->da, &va, 1.0f);
        if (cat->db)
          dae_axpy (c->s, cat->db, &vb, 1.0f);
        break;
      }
    }
  }
}

DaeTensor *
dae_graph_out (DaeGraph * g)
{
  return node_out (&g_array_index (g->nodes, DaeNode, g->nodes->len - 1));
}

DaeTensor *
dae_graph_d_out (DaeGraph * g)
{
  return node_d_out (&g_array_index (g->nodes, DaeNode, g->nodes->len - 1));
}
