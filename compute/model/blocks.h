/* The building blocks of the networks, each with its forward and backward next to each other:
 * the ResBlock (decoder form with time and z_sem modulation, encoder form without), the
 * attention block, and the plain layers they are made of. Internal to compute/model/. */
#ifndef DAE_BLOCKS_H
#define DAE_BLOCKS_H

#include "model/net.h"
#include "ops/dae_ops.h"

/* ---- activations ------------------------------------------------------------------------ */

/* Allocates the activations of one run. In training every forward tensor is its own (the
 * backward needs them all) while gradient temporaries are shared; in inference temporaries
 * of the same role and shape are shared by all blocks. */
typedef struct {
  DaeBackend *be;
  bool training;
  GPtrArray *owned;               /* every tensor allocated */
  GHashTable *shared;             /* "role:n:c:h:w" -> DaeTensor* */
  DaeError err;                   /* first allocation failure */
  size_t bytes;
} DaeWorkspace;

void dae_ws_init (DaeWorkspace * ws, DaeBackend * be, bool training);
void dae_ws_clear (DaeWorkspace * ws);
/* A tensor that lives as long as the run. */
DaeTensor *dae_ws_keep (DaeWorkspace * ws, int n, int c, int h, int w);
/* A forward temporary: kept in training, shared by role and shape in inference. */
DaeTensor *dae_ws_temp (DaeWorkspace * ws, const char *role, int n, int c, int h, int w);
/* A gradient temporary: shared by role and shape (training only). */
DaeTensor *dae_ws_grad_temp (DaeWorkspace * ws, const char *role, int n, int c, int h, int w);

/* ---- what a block needs at run time ------------------------------------------------------ */

typedef struct {
  DaeStream *s;
  const DaeTensor *p;             /* parameter views (values), indexed by layout index */
  const DaeTensor *g;             /* parameter gradient views, or NULL when not training */
  bool training;
  float dropout;                  /* probability, training only */
  uint32_t seed;                  /* of this forward; each block mixes in its own index */
} DaeRunCtx;

/* Layers hold indices into the parameter layout (-1: absent). */
typedef struct {
  int w, b, ksize;
} DaeConvLayer;

typedef struct {
  int w, b;
} DaeLinearLayer;

typedef struct {
  int gamma, beta, groups;
} DaeNormLayer;

/* Looks up "<prefix>.<suffix>" in the layout; records an error in ws when missing. */
int dae_param_index (const DaeParamLayout * layout, DaeWorkspace * ws, const char *prefix,
    const char *suffix);
DaeConvLayer dae_conv_layer (const DaeParamLayout * l, DaeWorkspace * ws, const char *prefix,
    int ksize);
DaeLinearLayer dae_linear_layer (const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix);
DaeNormLayer dae_norm_layer (const DaeParamLayout * l, DaeWorkspace * ws, const char *prefix,
    int channels);

void dae_conv_layer_forward (const DaeRunCtx * c, const DaeConvLayer * l, const DaeTensor * y,
    const DaeTensor * x, bool accumulate);
void dae_conv_layer_backward (const DaeRunCtx * c, const DaeConvLayer * l,
    const DaeTensor * dx, const DaeTensor * dy, const DaeTensor * x);
void dae_linear_layer_forward (const DaeRunCtx * c, const DaeLinearLayer * l,
    const DaeTensor * y, const DaeTensor * x);
void dae_linear_layer_backward (const DaeRunCtx * c, const DaeLinearLayer * l,
    const DaeTensor * dx, const DaeTensor * dy, const DaeTensor * x);

/* ---- ResBlock ---------------------------------------------------------------------------- */

typedef enum {
  DAE_RESAMPLE_NONE = 0,
  DAE_RESAMPLE_DOWN,              /* 2x2 average pooling */
  DAE_RESAMPLE_UP,                /* nearest x2 */
} DaeResample;

/* Decoder (conditioned) form, DESIGN.md section 2:
 *   a1 = silu(GN(x)); h1 = conv3x3(resample(a1));
 *   a2 = dropout(silu(GN(h1) * (1 + ts) + tb) * (1 + zs)))      (ts, tb) = emb(silu(temb)),
 *                                                                zs = cond(silu(z_sem))
 *   out = skip(resample(x)) + conv3x3(a2)
 * Encoder form: out = skip(resample(x)) + h1. */
typedef struct {
  int index;                      /* position in the network (dropout seed) */
  int cin, cout;
  DaeResample resample;
  bool conditioned;
  DaeNormLayer in_norm, out_norm;
  DaeConvLayer in_conv, out_conv, skip;   /* skip.w < 0: identity */
  DaeLinearLayer emb, cond;
  /* activations */
  const DaeTensor *x, *dx;        /* input and its gradient (borrowed) */
  const DaeTensor *silu_temb, *d_silu_temb, *silu_z, *d_silu_z;   /* shared embeddings */
  const DaeTensor *a1r, *xr;      /* a1 and x after resampling (the same tensors without) */
  DaeTensor *a1, *st1, *h1, *ss, *zs, *st2, *a2, *out, *d_out;
  DaeTensor *d_a1, *d_a1r, *d_xr, *d_h1, *d_ss, *d_zs, *d_a2;     /* gradient temporaries */
} DaeResBlock;

/* Plans the block: looks up its parameters under `prefix` and allocates its activations
 * for a (n, cin, h, w) input (h, w before resampling). */
void dae_resblock_plan (DaeResBlock * b, const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix, int n, int h, int w);
void dae_resblock_forward (const DaeRunCtx * c, DaeResBlock * b);
void dae_resblock_backward (const DaeRunCtx * c, DaeResBlock * b);

/* ---- attention block --------------------------------------------------------------------- */

/* out = x + proj_out(attention(qkv(GN(x)))), one head over H*W positions. */
typedef struct {
  int channels;
  DaeNormLayer norm;
  DaeConvLayer qkv, proj;
  const DaeTensor *x, *dx;
  DaeTensor *a, *st, *qkvt, *probs, *o, *out, *d_out;
  DaeTensor *d_a, *d_qkv, *d_o;
} DaeAttnBlock;

void dae_attnblock_plan (DaeAttnBlock * b, const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix, int n, int channels, int h, int w);
void dae_attnblock_forward (const DaeRunCtx * c, DaeAttnBlock * b);
void dae_attnblock_backward (const DaeRunCtx * c, DaeAttnBlock * b);

/* ---- the time embedding MLP: temb = lin2(silu(lin1(sinusoid(t)))) ------------------------ */

typedef struct {
  int dim;                        /* sinusoid width */
  DaeLinearLayer lin1, lin2;
  DaeTensor *sin, *h, *sh, *temb, *silu_temb, *d_silu_temb, *d_temb, *d_sh, *d_h;
} DaeTimeEmbed;

void dae_time_embed_plan (DaeTimeEmbed * e, const DaeParamLayout * l, DaeWorkspace * ws,
    const char *prefix, int n, int dim, int width);
/* Computes silu(temb) from t (N,1,1,1). */
void dae_time_embed_forward (const DaeRunCtx * c, DaeTimeEmbed * e, const DaeTensor * t);
/* Back-propagates d_silu_temb (accumulated by the blocks) into the MLP's parameters. */
void dae_time_embed_backward (const DaeRunCtx * c, DaeTimeEmbed * e);

#endif
