/* The named parameter list of a model config: every tensor of the decoder UNet, the semantic
 * encoder and the latent net, with the published names and PyTorch shapes, in the order of the
 * PyTorch reference's state_dict (tools/reference/diffae_ref.py DiffAE), without the duplicated
 * latent_net.layers.I.cond_layers.1.* names (doc/weights.md).
 *
 * The order groups the networks: all decoder tensors, then all encoder tensors, then all latent
 * net tensors, so each network is one index range and one element range of the concatenation. */
#ifndef DAE_MODEL_PARAMS_H
#define DAE_MODEL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/dae_error.h"
#include "model/config.h"

#define DAE_PARAM_MAX_DIMS 4

/* Which network a tensor belongs to (the same values as model/net.h's DaeNetKind). */
typedef enum {
  DAE_PARAM_NET_DECODER,        /* time_embed, input_blocks, middle_block, output_blocks, out */
  DAE_PARAM_NET_ENCODER,        /* encoder.* */
  DAE_PARAM_NET_LATENT,         /* latent_net.* */
  DAE_PARAM_NET_ALL             /* in queries: the whole list */
} DaeParamNet;

const char *dae_param_net_name (DaeParamNet net);

typedef struct {
  const char *name;
  DaeParamNet net;
  int ndim;                     /* 1..4 */
  int dims[DAE_PARAM_MAX_DIMS]; /* PyTorch order: conv [out, in, kh, kw], attention qkv/proj_out
                                 * (Conv1d) [out, in, 1], linear [out, in], vectors [C];
                                 * dims past ndim are 1 */
  size_t numel;
  size_t offset;                /* elements before this one in the concatenation, list order */
} DaeParamSpec;

typedef struct DaeParamList DaeParamList;

/* The list for cfg (validated first: DAE_ERR_INVALID names the bad field). */
DaeStatus dae_param_list_new (const DaeModelConfig * cfg, DaeParamList ** out, DaeError * err);
void dae_param_list_free (DaeParamList * list);

const DaeModelConfig *dae_param_list_config (const DaeParamList * list);
size_t dae_param_list_count (const DaeParamList * list);
/* NULL when index is out of range. */
const DaeParamSpec *dae_param_list_get (const DaeParamList * list, size_t index);

/* Index of a tensor by name, or -1. */
int dae_param_list_find (const DaeParamList * list, const char *name);
/* The same with a printf-style name:
 * dae_param_list_findf (l, "input_blocks.%d.0.in_layers.0.weight", i). */
int dae_param_list_findf (const DaeParamList * list, const char *fmt, ...)
    __attribute__((format (printf, 2, 3)));

/* A network's tensors are indices [first, end) and elements [offset, offset + numel) of the
 * concatenation. DAE_PARAM_NET_ALL: the whole list. */
void dae_param_list_range (const DaeParamList * list, DaeParamNet net, size_t *first,
    size_t *end);
size_t dae_param_list_numel (const DaeParamList * list, DaeParamNet net);
size_t dae_param_list_offset (const DaeParamList * list, DaeParamNet net);

/* "[3, 4, 3, 3]" into buf; returns buf. */
const char *dae_param_shape_text (const DaeParamSpec * spec, char *buf, size_t len);

#endif
