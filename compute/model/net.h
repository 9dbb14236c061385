/* The three Diff-AE networks (DESIGN.md section 2) on the op interface: the decoder UNet
 * eps(x_t, t, z_sem), the semantic encoder z_sem = Enc(x0) and the latent net eps(z_t, t),
 * each with an explicit backward pass.
 *
 * Weights and activations are separate so that many threads can share one set of weights:
 *  - DaeNet: one network's parameters, all in one flat tensor on a backend (so the optimiser,
 *    the EMA and the gradient norm are a few large ops), plus the named layout of that tensor.
 *    Immutable after loading; safe to share between threads.
 *  - DaeNetRun: what one thread needs to run a DaeNet on batches of N: every activation, and
 *    in training mode every gradient (the parameter gradients in one flat tensor laid out like
 *    the weights). Used by one thread at a time.
 *
 * Memory: a training run keeps every activation for the backward. An inference run shares
 * temporaries of equal role and shape between blocks (the recorder's barriers keep the reuse
 * safe), so it needs a fraction of the memory. */
#ifndef DAE_NET_H
#define DAE_NET_H

#include <glib.h>

#include "core/dae_backend.h"
#include "model/config.h"
#include "model/params.h"

typedef enum {
  DAE_NET_UNET = 0,
  DAE_NET_ENCODER,
  DAE_NET_LATENT,
} DaeNetKind;

typedef struct DaeNet DaeNet;
typedef struct DaeNetRun DaeNetRun;

/* The parameter layout of one network: names (published), op shapes and offsets in the flat
 * tensor. */
typedef struct {
  int count;
  char **names;
  int (*shape)[4];                /* (n, c, h, w) as the ops see the parameter */
  size_t *offset;                 /* elements from the start of the flat tensor */
  size_t total;                   /* elements in all */
  GHashTable *index;              /* name -> index + 1 */
} DaeParamLayout;

/* Builds a network of `kind` for cfg on be. values: the network's parameters in the order of
 * dae_param_list_new (cfg), i.e. its slice [offset, offset + numel) of a DaeModelFile's values
 * (dae_param_list_range/offset/numel with the DaeParamNet of the same number as kind); NULL
 * gives zeros. */
DaeStatus dae_net_new (DaeBackend * be, const DaeModelConfig * cfg, DaeNetKind kind,
    const float *values, DaeNet ** out, DaeError * err);
void dae_net_free (DaeNet * net);

const DaeModelConfig *dae_net_config (const DaeNet * net);
DaeNetKind dae_net_kind (const DaeNet * net);
const DaeParamLayout *dae_net_layout (const DaeNet * net);
/* The flat parameter tensor (the trainer updates it in place; nobody else writes it). */
DaeTensor *dae_net_params (DaeNet * net);
/* A view of parameter `name` in flat (values or gradients laid out the same); NULL if absent. */
bool dae_net_param_view (const DaeNet * net, const DaeTensor * flat, const char *name,
    DaeTensor * out);

/* Runs of the network on batches of exactly n samples. training: keep everything for the
 * backward and allocate gradients; dropout is then active with the seed of
 * dae_net_run_set_seed. */
DaeStatus dae_net_run_new (DaeNet * net, int n, bool training, DaeNetRun ** out,
    DaeError * err);
void dae_net_run_free (DaeNetRun * run);
int dae_net_run_batch (const DaeNetRun * run);
/* Seed of the dropout masks of the next forward (and its backward). */
void dae_net_run_set_seed (DaeNetRun * run, uint32_t seed);
/* Dropout probability of a training run (default: the config's); 0 switches it off, e.g. to
 * compare gradients with an implementation in evaluation mode. */
void dae_net_run_set_dropout (DaeNetRun * run, float p);
/* The flat parameter-gradient tensor of a training run (NULL otherwise). Zeroed by
 * dae_net_run_zero_grad; every backward adds into it. */
DaeTensor *dae_net_run_grads (DaeNetRun * run);
void dae_net_run_zero_grad (DaeNetRun * run, DaeStream * s);

/* Forward passes. t: (N,1,1,1) float timesteps (integers 0..999). All tensors on the net's
 * backend; shapes: x_t, eps (N, C, H, W) of the config; z_sem (N, z, 1, 1). */
void dae_unet_forward (DaeNetRun * run, DaeStream * s, const DaeTensor * eps,
    const DaeTensor * x_t, const DaeTensor * t, const DaeTensor * z_sem);
void dae_encoder_forward (DaeNetRun * run, DaeStream * s, const DaeTensor * z_sem,
    const DaeTensor * x0);
void dae_latent_forward (DaeNetRun * run, DaeStream * s, const DaeTensor * eps,
    const DaeTensor * z_t, const DaeTensor * t);

/* Backward passes of the last forward of a training run: parameter gradients are added to
 * dae_net_run_grads; input gradients (each may be NULL) are added to the given tensors. */
void dae_unet_backward (DaeNetRun * run, DaeStream * s, const DaeTensor * deps,
    const DaeTensor * dx_t, const DaeTensor * dz_sem);
void dae_encoder_backward (DaeNetRun * run, DaeStream * s, const DaeTensor * dz_sem,
    const DaeTensor * dx0);
void dae_latent_backward (DaeNetRun * run, DaeStream * s, const DaeTensor * deps,
    const DaeTensor * dz_t);

/* Bytes of device memory held by a run (activations and gradients). */
size_t dae_net_run_bytes (const DaeNetRun * run);

#endif
