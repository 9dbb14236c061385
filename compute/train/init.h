/* Fresh-training initialisation of a model's parameters, as the published code does. */
#ifndef DAE_TRAIN_INIT_H
#define DAE_TRAIN_INIT_H

#include <stdint.h>

#include "model/params.h"

/* Fills values (every parameter of list, concatenated in list order) for parameters of net
 * (DAE_PARAM_NET_ALL: every one):
 *  - convolution and linear weights: PyTorch's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 *    and the same bound for their biases;
 *  - GroupNorm / LayerNorm: weight 1, bias 0;
 *  - zero-initialised as published: each decoder ResBlock's out_layers.3, attention proj_out,
 *    and the decoder's final out.2;
 *  - latent-net layers followed by SiLU (every linear and linear_emb but the last layer's):
 *    Kaiming normal, std sqrt(2 / fan_in), biases as PyTorch's default.
 * Deterministic in seed. */
void dae_init_params (const DaeParamList * list, DaeParamNet net, uint64_t seed, float *values);

#endif
