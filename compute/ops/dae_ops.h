/* The op interface: everything the models, the DDIM loops and the trainer compute.
 *
 * Each op has a Vulkan implementation (shaders/) and a CPU implementation (compute/cpu/),
 * chosen by the backend of the tensors; callers never name a backend. All tensors of one
 * call must live on the stream's backend. Shapes are checked here; a mismatch is recorded
 * as the stream's sticky error (see dae_backend.h) and the op does nothing.
 *
 * Conventions, in the style of llm.c:
 *  - forward(outputs..., inputs..., args); backward(input grads..., dy, saved inputs..., args),
 *    forward and backward next to each other in every file.
 *  - Backward ops ADD into every gradient they produce (dx += ..., dw += ...), so a tensor
 *    used twice simply receives two contributions. Zero gradients with dae_fill first.
 *    Any gradient argument may be NULL when it is not needed; its work is then skipped.
 *  - Tensors are float32 NCHW and contiguous unless stated otherwise. A vector of K values
 *    per sample is a tensor (N, K, 1, 1). */
#ifndef DAE_OPS_H
#define DAE_OPS_H

#include "core/dae_backend.h"

/* ---- basic (ops_basic.c; shaders/basic.comp, shaders/pool.comp) ---------------------- */

/* y = value everywhere (y may be a view). */
void dae_fill (DaeStream * s, const DaeTensor * y, float value);
/* y = x; same shape; either may be a strided view (this is how concatenation is done). */
void dae_copy (DaeStream * s, const DaeTensor * y, const DaeTensor * x);
/* y += alpha * x; same shape; either may be a strided view. */
void dae_axpy (DaeStream * s, const DaeTensor * y, const DaeTensor * x, float alpha);

/* y = x * sigmoid(x). */
void dae_silu_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x);
void dae_silu_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy,
    const DaeTensor * x);

/* 2x2 average pooling: x (N,C,H,W) with H, W even -> y (N,C,H/2,W/2). */
void dae_avgpool2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x);
void dae_avgpool2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy);

/* Nearest-neighbour upsampling x2: x (N,C,H,W) -> y (N,C,2H,2W). */
void dae_upsample2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x);
void dae_upsample2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy);

/* Global average pool: x (N,C,H,W) -> y (N,C,1,1). */
void dae_global_avgpool_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x);
void dae_global_avgpool_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy);

/* Sinusoidal timestep embedding, cos first (DESIGN.md section 2): t (N,1,1,1) holds the
 * integer timesteps as floats; y (N,D,1,1), D even, half = D/2,
 * f_i = exp(-ln(10000) i / half), y = [cos(t f_0..f_{half-1}), sin(t f_0..)]. No backward. */
void dae_timestep_embedding (DaeStream * s, const DaeTensor * y, const DaeTensor * t);

/* ---- linear and convolution (ops_gemm.c; shaders/linear.comp, shaders/conv2d.comp) ---- */

/* y (N,out) = x (N,in) w^T + b, with w (out,in,1,1) and b (out) or NULL.
 * x may have any (c,h,w) with c*h*w == in. accumulate: y += instead of y =. */
void dae_linear_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, bool accumulate);
void dae_linear_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w);

typedef struct {
  int ksize;              /* 1 or 3; padding ksize/2 (zeros), stride 1 */
  bool accumulate;        /* forward: y += conv(x) + b instead of y = conv(x) + b */
} DaeConvArgs;

/* y (N,Cout,H,W) = conv(x (N,Cin,H,W), w (Cout,Cin,k,k)) + b (Cout or NULL). */
void dae_conv2d_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, const DaeConvArgs * a);
void dae_conv2d_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w,
    const DaeConvArgs * a);

/* ---- normalisation (ops_norm.c; shaders/groupnorm.comp, shaders/layernorm.comp) -------- */

/* Fused GroupNorm, in this order (DESIGN.md section 2, decoder ResBlock):
 *   h = (x - mean_g) * rstd_g * gamma + beta        statistics per (sample, group), fp32
 *   h = h * (1 + scale) + shift                     if scaleshift: (N,2C) = [scale | shift]
 *   h = h * (1 + zscale)                            if zscale: (N,C)
 *   h = silu(h)                                     if silu
 *   h = dropout(h)                                  if dropout > 0 (training): an element is
 *        kept, and multiplied by 1/(1-p), when dae_dropout_keep(seed, i, p) with i its index
 *        in the logical NCHW order of y.
 * stats (N, groups, 2, 1) receives (mean, rstd) for the backward. */
typedef struct {
  int groups;                       /* C must be a multiple; the models use min(32, C) */
  float eps;                        /* 1e-5 */
  const DaeTensor *gamma, *beta;    /* (C) each; required */
  const DaeTensor *scaleshift;      /* (N,2C) or NULL */
  const DaeTensor *zscale;          /* (N,C) or NULL */
  bool silu;
  float dropout;                    /* probability of dropping, 0 = off */
  uint32_t seed;
} DaeGroupNormArgs;

typedef struct {
  const DaeTensor *dgamma, *dbeta, *dscaleshift, *dzscale;  /* each may be NULL */
} DaeGroupNormGrads;

void dae_groupnorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeGroupNormArgs * a);
void dae_groupnorm_backward (DaeStream * s, const DaeTensor * dx, const DaeGroupNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeGroupNormArgs * a);

/* Fused LayerNorm of the latent net over the C features of each sample:
 *   h = x * (1 + prescale)      if prescale: (N,C)
 *   h = LN(h) * gamma + beta
 *   h = silu(h), dropout as above.
 * stats (N,1,2,1) receives (mean, rstd). */
typedef struct {
  float eps;
  const DaeTensor *gamma, *beta;    /* (C) */
  const DaeTensor *prescale;        /* (N,C) or NULL */
  bool silu;
  float dropout;
  uint32_t seed;
} DaeLayerNormArgs;

typedef struct {
  const DaeTensor *dgamma, *dbeta, *dprescale;
} DaeLayerNormGrads;

void dae_layernorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeLayerNormArgs * a);
void dae_layernorm_backward (DaeStream * s, const DaeTensor * dx, const DaeLayerNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeLayerNormArgs * a);

/* ---- attention (ops_attention.c; shaders/attention.comp) ------------------------------- */

/* Single-head attention over the T = H*W positions. qkv (N,3C,H,W) holds q, k, v as channel
 * chunks [0,C), [C,2C), [2C,3C). With q, k scaled by C^-1/4 each:
 *   P[t,s] = softmax_s(sum_c q[c,t] k[c,s])   (fp32), y[c,t] = sum_s P[t,s] v[c,s].
 * y (N,C,H,W); probs (N,1,T,T) keeps P for the backward. */
void dae_attention_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * probs,
    const DaeTensor * qkv);
void dae_attention_backward (DaeStream * s, const DaeTensor * dqkv, const DaeTensor * dy,
    const DaeTensor * qkv, const DaeTensor * probs);

/* ---- losses and optimisation (ops_train.c; shaders/loss.comp, shaders/optim.comp) ------ */

/* loss (1) = mean((pred - target)^2); dpred (nullable) += grad_scale * d loss / d pred. */
void dae_mse_loss (DaeStream * s, const DaeTensor * loss, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale);
/* loss (1) = mean(|pred - target|); gradient sign(pred - target)/numel (0 at 0). */
void dae_l1_loss (DaeStream * s, const DaeTensor * loss, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale);

/* out (a 1-element tensor or view) = sum of x^2. Used per parameter gradient, each into
 * its own slot of one (K) tensor, so that the slots can be written without barriers. */
void dae_sumsq (DaeStream * s, const DaeTensor * out, const DaeTensor * x);
/* factor (1) = min(1, max_norm / (sqrt(sum(sumsq)) + 1e-6)): the gradient-norm clip factor
 * of torch.nn.utils.clip_grad_norm_. sumsq is (K). */
void dae_clip_factor (DaeStream * s, const DaeTensor * factor, const DaeTensor * sumsq,
    float max_norm);

typedef struct {
  float lr, beta1, beta2, eps, weight_decay;
  bool decoupled;                 /* AdamW (p *= 1 - lr*wd) instead of Adam's g += wd*p */
  int step;                       /* 1-based, for bias correction */
  const DaeTensor *grad_scale;    /* (1) multiplies the gradient (the clip factor) or NULL */
} DaeAdamArgs;

/* One Adam step, as torch.optim.Adam / AdamW of PyTorch 1.13:
 *   g = grad * scale (+ wd*p for Adam); m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps). */
void dae_adam_update (DaeStream * s, const DaeTensor * param, const DaeTensor * grad,
    const DaeTensor * m, const DaeTensor * v, const DaeAdamArgs * a);
/* ema = decay * ema + (1 - decay) * param. */
void dae_ema_update (DaeStream * s, const DaeTensor * ema, const DaeTensor * param, float decay);

/* ---- diffusion (ops_diffusion.c; shaders/ddim.comp) ------------------------------------ */

/* One deterministic DDIM move (DESIGN.md section 3), elementwise:
 *   x0  = sqrt_recip_abar * x - sqrt_recipm1_abar * eps_hat, clamped to [-1,1] if clip
 *   eps = (sqrt_recip_abar * x - x0) / sqrt_recipm1_abar
 *   out = sqrt_abar_to * x0 + sqrt_1m_abar_to * eps
 * Decoding moves to the previous kept step (abar_to = abar_prev, 1 before the first kept
 * step); inversion moves to the next one (abar_to = 0 after the last). out may be x. */
typedef struct {
  float sqrt_recip_abar, sqrt_recipm1_abar;
  float sqrt_abar_to, sqrt_1m_abar_to;
  bool clip;
} DaeDdimArgs;

void dae_ddim_update (DaeStream * s, const DaeTensor * out, const DaeTensor * x,
    const DaeTensor * eps_hat, const DaeDdimArgs * a);

/* ---- dropout mask shared by all backends (must match shaders/common.glsl) -------------- */

static inline uint32_t
dae_hash32 (uint32_t x)
{
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* True when element i survives dropout with probability p of dropping. */
static inline bool
dae_dropout_keep (uint32_t seed, uint32_t i, float p)
{
  uint32_t r = dae_hash32 (i ^ dae_hash32 (seed)) >> 8;   /* 24 random bits */
  return (float) r >= p * 16777216.0f;
}

#endif
