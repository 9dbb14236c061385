/* DaeNet and DaeNetRun internals shared by net.c and the three network files. */
#ifndef DAE_NET_PRIVATE_H
#define DAE_NET_PRIVATE_H

#include "model/graph.h"

struct DaeNet {
  DaeBackend *be;
  DaeModelConfig cfg;
  DaeNetKind kind;
  DaeParamLayout layout;
  DaeTensor *params;              /* flat */
};

/* Per-kind state of a run. */
typedef struct {
  DaeGraph g;
  DaeTimeEmbed temb;
  DaeTensor *silu_z, *d_silu_z;
  DaeConvLayer conv_in;
  DaeTensor *h0, *d_h0;
  DaeNormLayer out_norm;
  DaeConvLayer out_conv;
  DaeTensor *o1, *st, *d_o1;
  DaeTensor *pooled, *d_pooled;   /* encoder only */
  const DaeTensor *x_in, *z_in;   /* inputs of the last forward */
} DaeUNetState;

typedef struct {
  DaeLinearLayer lin, emb;        /* emb.w < 0 on the last layer */
  DaeTensor *in, *d_in;           /* layer >= 1: [h, z_t]; layer 0 reads z_t itself */
  DaeTensor *pre, *c, *st, *y;
  DaeTensor *d_pre, *d_c, *d_y;
} DaeLatentLayer;

typedef struct {
  DaeTimeEmbed temb;
  int n_layers;
  DaeLatentLayer *layers;
  DaeNormLayer *norms;
  const DaeTensor *z_in;
} DaeLatentState;

struct DaeNetRun {
  DaeNet *net;
  int n;
  bool training;
  uint32_t seed;
  float dropout;                  /* training only */
  DaeWorkspace ws;
  DaeTensor *grads;               /* flat, training only */
  DaeTensor *pviews, *gviews;     /* per-parameter views of params and grads */
  DaeUNetState unet;              /* UNet and encoder */
  DaeLatentState latent;
};

/* Fills a DaeRunCtx for one forward or backward on stream s. */
DaeRunCtx dae_net_run_ctx (DaeNetRun * run, DaeStream * s);

void dae_unet_plan (DaeNetRun * run);
void dae_encoder_plan (DaeNetRun * run);
void dae_latent_plan (DaeNetRun * run);
void dae_latent_state_clear (DaeLatentState * st);

#endif
