/* Vulkan: single-head attention. The matrix products are batched dae_vk_gemm calls over
 * the samples (vk_gemm.h); the q/k scaling, the softmax rows and their backward are
 * shaders/attention.comp. Per sample, with T = H*W and a = C^-1/4:
 *
 *   forward   qk = ((a q)^T, a k) in scratch; probs = qk_q qk_k; softmax rows;
 *             y = v probs^T
 *   backward  dP = dy^T v (scratch); dv += dy P; dS = P * (dP - rowsum(dP * P)) in place;
 *             dq += a^2 k dS^T; dk += a^2 q dS */
#include "vk_backend.h"
#include "vk_gemm.h"

#include <math.h>

#define SCALE_LOCAL 64

typedef struct {
  uint32_t count, T, ct;
  float a;
} AttentionParams;

typedef struct {
  uint32_t local, row_lanes;
} RowProfile;

/* lavapipe: one lane per row (no shared memory, no barriers); GPUs: 64 lanes share a row. */
static RowProfile
row_profile (DaeStream * s)
{
  if (dae_vk_dev (s->be)->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
    return (RowProfile) {.local = 16,.row_lanes = 1 };
  return (RowProfile) {.local = 256,.row_lanes = 64 };
}

/* One launch of a row op over `rows` rows of length T of x (and y for the backward). */
static void
row_op (DaeStream * s, const char *shader, const DaeTensor * x, const DaeTensor * y,
    uint32_t rows, uint32_t T)
{
  RowProfile pr = row_profile (s);
  AttentionParams p = {.count = rows,.T = T };
  DaeVkArg args[] = { {x, true}, {y, false} };
  uint32_t gx, gy, spec[] = { pr.local, pr.row_lanes };
  dae_vk_grid_1d (s, rows, pr.local / pr.row_lanes, &gx, &gy);
  dae_vk_dispatch (s, shader, spec, 2, args, 2, &p, sizeof p, gx, gy, 1);
}

static DaeVkMat
mat (const DaeTensor * t, size_t offset, size_t batch_stride, int ld, bool trans)
{
  return (DaeVkMat) {.t = t,.offset = offset,.batch_stride = batch_stride,.ld = ld,.trans = trans };
}

static void
vk_attention_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * probs,
    const DaeTensor * qkv)
{
  const int N = y->n, C = y->c, T = y->h * y->w;
  const size_t CT = (size_t) C * T, TT = (size_t) T * T;
  const DaeTensor *qk = dae_vk_scratch (s, 0, 2 * CT * N);
  if (!qk)
    return;
  /* qk = ((a q)^T, a k) per sample: q stored (T, C), so that the scores' GEMM reads A four
   * channels at a time. */
  AttentionParams p = {.T = (uint32_t) T,.ct = (uint32_t) CT,
    .a = (float) (1.0 / sqrt (sqrt ((double) C)))
  };
  DaeVkArg args[] = { {qk, true}, {qkv, false} };
  uint32_t spec[] = { SCALE_LOCAL };
  dae_vk_dispatch (s, "attention_scale_qk", spec, 1, args, 2, &p, sizeof p,
      (uint32_t) ((2 * CT + SCALE_LOCAL - 1) / SCALE_LOCAL), (uint32_t) N, 1);
  /* probs (T x T) = (a q)^T (a k), then softmax rows. */
  dae_vk_gemm (s, T, T, C, N, mat (qk, 0, 2 * CT, C, false), mat (qk, CT, 2 * CT, T, false),
      mat (probs, 0, TT, T, false), 1.0f, 0.0f);
  row_op (s, "attention_softmax", probs, NULL, (uint32_t) (N * T), (uint32_t) T);
  /* y (C x T) = v probs^T. */
  dae_vk_gemm (s, C, T, T, N, mat (qkv, 2 * CT, 3 * CT, T, false), mat (probs, 0, TT, T, true),
      mat (y, 0, CT, T, false), 1.0f, 0.0f);
}

static void
vk_attention_backward (DaeStream * s, const DaeTensor * dqkv, const DaeTensor * dy,
    const DaeTensor * qkv, const DaeTensor * probs)
{
  const int N = dy->n, C = dy->c, T = dy->h * dy->w;
  const size_t CT = (size_t) C * T, TT = (size_t) T * T;
  const float a2 = (float) (1.0 / sqrt ((double) C));
  const DaeTensor *dS = dae_vk_scratch (s, 0, TT * N);
  if (!dS)
    return;
  /* dP (T x T) = dy^T v into scratch; dv (C x T) += dy P. Independent of each other. */
  dae_vk_gemm (s, T, T, C, N, mat (dy, 0, CT, T, true), mat (qkv, 2 * CT, 3 * CT, T, false),
      mat (dS, 0, TT, T, false), 1.0f, 0.0f);
  dae_vk_gemm (s, C, T, T, N, mat (dy, 0, CT, T, false), mat (probs, 0, TT, T, false),
      mat (dqkv, 2 * CT, 3 * CT, T, false), 1.0f, 1.0f);
  /* dS = P * (dP - rowsum(dP * P)). */
  row_op (s, "attention_softmax_bwd", dS, probs, (uint32_t) (N * T), (uint32_t) T);
  /* dq (C x T) += a^2 k dS^T; dk (C x T) += a^2 q dS. */
  dae_vk_gemm (s, C, T, T, N, mat (qkv, CT, 3 * CT, T, false), mat (dS, 0, TT, T, true),
      mat (dqkv, 0, 3 * CT, T, false), a2, 1.0f);
  dae_vk_gemm (s, C, T, T, N, mat (qkv, 0, 3 * CT, T, false), mat (dS, 0, TT, T, false),
      mat (dqkv, CT, 3 * CT, T, false), a2, 1.0f);
}

void
dae_vk_register_attention (DaeOpsTable * t)
{
  t->attention_forward = vk_attention_forward;
  t->attention_backward = vk_attention_backward;
}
