/* The Vulkan backend's strided batched GEMM (shaders/gemm.comp on shaders/gemm_tile.glsl),
 * for every op family that multiplies matrices: linear layers here, attention's scores and
 * weighted sums. Also the choice of tiles that the convolution shaders share with it. */
#ifndef DAE_VK_GEMM_H
#define DAE_VK_GEMM_H

#include "vk_backend.h"

typedef struct { const DaeTensor *t; size_t offset; size_t batch_stride; int ld; bool trans; } DaeVkMat;
/* C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], b = 0..batch-1; matrices row-major with leading dimension ld (elements), offset and batch_stride in elements from the tensor's first element; op(X) = X^T when trans. beta 0 never reads C. */
void dae_vk_gemm (DaeStream * s, int M, int N, int K, int batch, DaeVkMat a, DaeVkMat b, DaeVkMat c, float alpha, float beta);

/* As dae_vk_gemm, then adds bias (a vector of N values, one per column of C, or of M values,
 * one per row, when per_row) to every element. C must not overlap A or B. */
void dae_vk_gemm_bias (DaeStream * s, int M, int N, int K, int batch, DaeVkMat a, DaeVkMat b,
    DaeVkMat c, float alpha, float beta, const DaeTensor * bias, bool per_row);

/* What an epilogue adds to each result (common.glsl's EPI_*): the specialisation constant 7
 * of a shader on gemm_tile.glsl (DaeVkTiles.epilogue), 1 of the Winograd output transform. */
#define DAE_VK_EPI_BIAS 1u              /* a bias per column (gemm) or output channel (conv) */
#define DAE_VK_EPI_ACCUMULATE 2u        /* the old output (gemm: times beta; conv dW: one split) */
#define DAE_VK_EPI_BIAS_ROW 4u          /* gemm: a bias per row */

/* The epilogue of a convolution's forward: its bias, and the old output when accumulating. */
static inline uint32_t
dae_vk_conv_epilogue (bool bias, bool accumulate)
{
  return (bias ? DAE_VK_EPI_BIAS : 0) | (accumulate ? DAE_VK_EPI_ACCUMULATE : 0);
}

/* Tiling of gemm_tile.glsl, specialisation constants 0..4 and 6 (see that file), and the
 * epilogue's options, constant 7. */
typedef struct {
  uint32_t lx, tm, tn, wm, bk;
  uint32_t kv;                  /* k per load of A: 4 where the caller allows it, else 1 */
  bool texel;                   /* lavapipe profile with kv 4: A (binding 0) is read through a
                                 * vec4 texel view, B (binding 1) through a float one */
  bool b_vec4;                  /* texel, and op(B) contiguous along k: B read as vec4 texels
                                 * too (gemm.comp only) */
  uint32_t epilogue;            /* DAE_VK_EPI_* bits, set by the op (0 from the choosers) */
} DaeVkTiles;

/* Whether a GEMM on tiles t reads op(B) as vec4 texels (gemm.comp's _texel_b4 variant):
 * texel tiles, B transposed with K, ld, batch stride and offset multiples of 4. */
bool dae_vk_gemm_b_vec4 (const DaeVkTiles * t, int K, const DaeVkMat * b);

/* Rows and columns of C one workgroup computes. */
static inline uint32_t
dae_vk_tiles_bm (const DaeVkTiles * t)
{
  return t->wm * t->tm;
}

static inline uint32_t
dae_vk_tiles_bn (const DaeVkTiles * t)
{
  return t->lx / t->wm * t->tn;
}

/* The tiles for an M x N product on s's device: the lavapipe profile (no shared memory) on
 * CPU devices, shared-memory tiles on GPUs. $DIFFAE_VK_PROFILE=cpu|gpu forces one (tests
 * run both on lavapipe). a_vec4: A can be read four k at a time (contiguous along k,
 * K % 4 == 0, 16-byte aligned rows); the lavapipe profile then does. has_texel: the shader
 * has a texel-view variant (DaeVkTiles.texel), which the lavapipe profile then takes where
 * the device has texel views ($DIFFAE_VK_TEXEL=0 keeps the storage-buffer loads). For tuning,
 * $DIFFAE_GEMM_TILES="lx,tm,tn,wm,bk,kv" replaces the choice (the GPU profile's
 * constraints of gemm_tile.glsl are then the caller's to keep). */
DaeVkTiles dae_vk_gemm_tiles (DaeStream * s, int M, int N, bool a_vec4, bool has_texel);
/* The specialisation constants of t (DAE_VK_TILES_SPEC values) for a shader with kernel
 * size ksize. */
#define DAE_VK_TILES_SPEC 8
void dae_vk_tiles_spec (const DaeVkTiles * t, uint32_t ksize, uint32_t spec[DAE_VK_TILES_SPEC]);
/* Launches variant `shader` on gemm_tile.glsl with t's tiles (kernel size ksize; 0 for
 * gemm.comp) over gx x gy x gz workgroups, or its "_texel" variant when t->texel; fails the
 * stream when the grid exceeds the device's. */
void dae_vk_tiles_dispatch (DaeStream * s, const char *shader, const DaeVkTiles * t,
    uint32_t ksize, const DaeVkArg * args, int nargs, const void *params, size_t size,
    uint32_t gx, uint32_t gy, uint32_t gz);
/* True when element `offset` of tensor t lies on a 16-byte boundary of its binding. */
bool dae_vk_aligned4 (const DaeTensor * t, size_t offset);
/* True when the device would run the tiles' workgroups as lavapipe does (one per thread). */
bool dae_vk_gemm_is_cpu_profile (const DaeVkTiles * t);

#endif
