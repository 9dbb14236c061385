/* Plain-C reference of the attention op family in double precision: naive loops that are easy to
 * check by eye, used by the tests as ground truth for both backends and for finite
 * differences. Same argument order as compute/ops/dae_ops.h; arrays are NCHW. */
#ifndef DAE_REF_ATTENTION_H
#define DAE_REF_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>

/* qkv (N,3C,T) -> y (N,C,T) and probs (N,T,T), T = H*W (dae_attention_forward). */
void ref_attention_forward (double *y, double *probs, const double *qkv, int N, int C, int T);
/* dqkv (N,3C,T) += gradient of sum(dy * y) through the forward, from the stored probs. */
void ref_attention_backward (double *dqkv, const double *dy, const double *qkv,
    const double *probs, int N, int C, int T);

#endif
