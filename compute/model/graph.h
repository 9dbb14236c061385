/* The block sequence shared by the UNet and the encoder (their down paths and middle blocks
 * have the same shape), and the private state of a DaeNetRun. Internal to compute/model/. */
#ifndef DAE_GRAPH_H
#define DAE_GRAPH_H

#include "model/blocks.h"

typedef enum {
  DAE_NODE_RES,
  DAE_NODE_ATTN,
  DAE_NODE_CAT,                   /* out = [a, b] along channels */
} DaeNodeKind;

typedef struct {
  const DaeTensor *a, *b, *da, *db;
  DaeTensor *out, *d_out;
} DaeCatNode;

typedef struct {
  DaeNodeKind kind;
  bool dx_is_temp;                /* the input gradient is a shared temporary: zero it first */
  union {
    DaeResBlock res;
    DaeAttnBlock attn;
    DaeCatNode cat;
  } u;
} DaeNode;

/* A growing list of nodes with the running "current" tensor and its gradient. */
typedef struct {
  GArray *nodes;                  /* DaeNode */
  const DaeParamLayout *layout;
  DaeWorkspace *ws;
  int n;                          /* batch */
  const DaeTensor *cur, *d_cur;
  int cur_c, cur_h, cur_w;
  bool conditioned;
  const DaeTensor *silu_temb, *d_silu_temb, *silu_z, *d_silu_z;
} DaeGraph;

void dae_graph_init (DaeGraph * g, const DaeParamLayout * layout, DaeWorkspace * ws, int n);
void dae_graph_clear (DaeGraph * g);
void dae_graph_add_res (DaeGraph * g, const char *prefix, int cout, DaeResample resample);
void dae_graph_add_attn (DaeGraph * g, const char *prefix);
/* cur = [cur, skip]; skip and d_skip are an earlier node's output and gradient. */
void dae_graph_add_cat (DaeGraph * g, const DaeTensor * skip, const DaeTensor * d_skip);
/* The down path and middle block of the UNet (prefix "") or the encoder ("encoder"), from cur
 * (the output of input_blocks.0.0). Pushes every skip (output and gradient) onto skips. */
void dae_graph_add_down_and_middle (DaeGraph * g, const char *prefix, const int *mult,
    int levels, int num_res_blocks, const int *attn_res, int n_attn, int base,
    GPtrArray * skips);

void dae_graph_forward (DaeGraph * g, const DaeRunCtx * c);
/* Zeroes every persistent output gradient (call before seeding the last one). */
void dae_graph_zero_grads (DaeGraph * g, DaeStream * s);
void dae_graph_backward (DaeGraph * g, const DaeRunCtx * c);

/* Output tensor and gradient of the last node. */
DaeTensor *dae_graph_out (DaeGraph * g);
DaeTensor *dae_graph_d_out (DaeGraph * g);

#endif
