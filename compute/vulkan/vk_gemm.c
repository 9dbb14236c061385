/* Vulkan: the strided batched GEMM and the choice of tiles (see vk_gemm.h). */
#include "vk_gemm.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  uint32_t M, N, K;
  uint32_t a_off, a_rs, a_cs, a_bs;
  uint32_t b_off, b_rs, b_cs, b_bs;
  uint32_t c_off, c_ld, c_bs;
  float alpha, beta;
} GemmParams;

static bool
cpu_profile_wanted (DaeStream * s)
{
  const char *forced = g_getenv ("DIFFAE_VK_PROFILE");
  if (forced && strcmp (forced, "cpu") == 0)
    return true;
  if (forced && strcmp (forced, "gpu") == 0)
    return false;
  return dae_vk_dev (s->be)->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

/* The lavapipe profile: one 8-lane SIMD row per workgroup; all lanes share the rows. Every
 * storage-buffer load costs the same on lavapipe, so the tile is as large as the registers
 * bear: 16 x 8 (24 loads per 128 FMAs), or 32 x 8 with A read as vec4 (64 loads per 1024
 * FMAs); measured best of 4..64 x 4..16 at the UNet's shapes. Thin products keep fewer
 * rows, since a row past M still costs its loads. */
static DaeVkTiles
cpu_tiles (int M, bool a_vec4)
{
  uint32_t kv = a_vec4 ? 4 : 1;
  if (M == 1)
    return (DaeVkTiles) { 8, 1, 8, 1, 0, kv, false, false, 0 };
  if (M <= 4)
    return (DaeVkTiles) { 8, 4, 8, 1, 0, kv, false, false, 0 };
  if (M <= 8)
    return (DaeVkTiles) { 8, 8, 8, 1, 0, kv, false, false, 0 };
  if (M <= 16 || kv == 1)
    return (DaeVkTiles) { 8, 16, 8, 1, 0, kv, false, false, 0 };
  return (DaeVkTiles) { 8, 32, 8, 1, 0, kv, false, false, 0 };
}

/* The texel-view variant runs on the lavapipe profile with vec4 loads of A. */
static bool
texel_wanted (DaeStream * s, const DaeVkTiles * t, bool has_texel)
{
  return has_texel && t->bk == 0 && t->kv == 4 && dae_vk_texels_enabled (s);
}

DaeVkTiles
dae_vk_gemm_tiles (DaeStream * s, int M, int N, bool a_vec4, bool has_texel)
{
  const char *forced = g_getenv ("DIFFAE_GEMM_TILES");
  DaeVkTiles t = { 0 };
  if (forced && sscanf (forced, "%u,%u,%u,%u,%u,%u", &t.lx, &t.tm, &t.tn, &t.wm, &t.bk,
          &t.kv) == 6) {
    t.kv = a_vec4 && t.kv == 4 ? 4 : 1;
    t.texel = texel_wanted (s, &t, has_texel);
    return t;
  }
  if (cpu_profile_wanted (s)) {
    t = cpu_tiles (M, a_vec4);
    if (texel_wanted (s, &t, has_texel)) {
      /* A texel fetch is a gather costing a few cycles where a storage-buffer load costs
       * ~57, so the loads no longer decide the tile alone; LLVM's compile time does too.
       * Conv3x3 forward 16x16x256 (GFLOP/s; seconds to compile one variant): 32 x 16 42
       * (20 s), 32 x 12 38 (12 s), 16 x 16 36 (6 s), 32 x 8 34 (6 s). Lavapipe keeps no
       * compiled pipelines across processes reliably, so 16 x 16; narrow products (one 8x8
       * image: 64 columns) keep 8 columns per lane rather than idle half the lanes. */
      t.texel = true;
      t.tm = MIN (t.tm, 16);
      t.tn = N >= 8 * 16 ? 16 : 8;
    }
    return t;
  }
  /* 256 threads in a 16 x 16 grid: 128 x 128 tiles of 8 x 8 per thread with K staged 8 at a
   * time for large products, 64 x 64 of 4 x 4 with K steps of 16 otherwise; either stages
   * about 8 KiB of shared memory (16 KiB is the least a device may have). */
  if (M >= 128 && N >= 128)
    return (DaeVkTiles) { 256, 8, 8, 16, 8, 1, false, false, 0 };
  return (DaeVkTiles) { 256, 4, 4, 16, 16, 1, false, false, 0 };
}

void
dae_vk_tiles_spec (const DaeVkTiles * t, uint32_t ksize, uint32_t spec[DAE_VK_TILES_SPEC])
{
  uint32_t v[DAE_VK_TILES_SPEC] = { t->lx, t->tm, t->tn, t->wm, t->bk, ksize, t->kv,
    t->epilogue
  };
  memcpy (spec, v, sizeof v);
}

void
dae_vk_tiles_dispatch (DaeStream * s, const char *shader, const DaeVkTiles * t,
    uint32_t ksize, const DaeVkArg * args, int nargs, const void *params, size_t size,
    uint32_t gx, uint32_t gy, uint32_t gz)
{
  const uint32_t *limit = dae_vk_dev (s->be)->props.limits.maxComputeWorkGroupCount;
  if (gx > limit[0] || gy > limit[1] || gz > limit[2]) {
    dae_stream_fail (s, DAE_ERR_INVALID, "%s: %u x %u x %u workgroups exceed the device's grid",
        shader, gx, gy, gz);
    return;
  }
  uint32_t spec[DAE_VK_TILES_SPEC];
  dae_vk_tiles_spec (t, ksize, spec);
  if (!t->texel) {
    dae_vk_dispatch (s, shader, spec, DAE_VK_TILES_SPEC, args, nargs, params, size, gx, gy, gz);
    return;
  }
  /* The _texel variants read A (binding 0) as vec4 texels and B (binding 1) as floats, the
   * _texel_b4 ones B as vec4 texels too. */
  const uint8_t texels[DAE_VK_TEXEL_VIEWS] = { 4, t->b_vec4 ? 4 : 1 };
  char name[64];
  g_snprintf (name, sizeof name, "%s_texel%s", shader, t->b_vec4 ? "_b4" : "");
  dae_vk_dispatch_texels (s, name, spec, DAE_VK_TILES_SPEC, args, nargs, texels, params, size,
      gx, gy, gz);
}

bool
dae_vk_aligned4 (const DaeTensor * t, size_t offset)
{
  /* Storage starts on the device's binding alignment (>= 256 bytes). */
  return (t->offset + offset) % 4 == 0;
}

bool
dae_vk_gemm_is_cpu_profile (const DaeVkTiles * t)
{
  return t->bk == 0;
}

/* op(B) contiguous along k (B^T stored row-major): four k of a column per texel fetch. On
 * lavapipe a fetch costs about as much whatever its width, and the lanes' B fetches are most
 * of the loads of a 16 x 16 tile (64 against A's 16 per four k): the Winograd GEMMs, whose
 * transformed inputs are stored tile by tile for this, took 20% less time. */
bool
dae_vk_gemm_b_vec4 (const DaeVkTiles * t, int K, const DaeVkMat * b)
{
  return t->texel && b->trans && K % 4 == 0 && b->ld % 4 == 0 && b->batch_stride % 4 == 0 &&
      dae_vk_aligned4 (b->t, b->offset);
}

static void
operand_strides (const DaeVkMat * m, uint32_t * rs, uint32_t * cs)
{
  *rs = m->trans ? 1 : (uint32_t) m->ld;
  *cs = m->trans ? (uint32_t) m->ld : 1;
}

void
dae_vk_gemm_bias (DaeStream * s, int M, int N, int K, int batch, DaeVkMat a, DaeVkMat b,
    DaeVkMat c, float alpha, float beta, const DaeTensor * bias, bool per_row)
{
  if (M <= 0 || N <= 0 || batch <= 0)
    return;
  bool a_vec4 = !a.trans && K % 4 == 0 && a.ld % 4 == 0 && a.batch_stride % 4 == 0 &&
      dae_vk_aligned4 (a.t, a.offset);
  DaeVkTiles t = dae_vk_gemm_tiles (s, M, N, a_vec4, true);
  t.b_vec4 = dae_vk_gemm_b_vec4 (&t, K, &b);
  t.epilogue = (bias ? (per_row ? DAE_VK_EPI_BIAS_ROW : DAE_VK_EPI_BIAS) : 0) |
      (beta != 0.0f ? DAE_VK_EPI_ACCUMULATE : 0);
  uint32_t bm = dae_vk_tiles_bm (&t), bn = dae_vk_tiles_bn (&t);
  uint32_t gx = (N + bn - 1) / bn, gy = (M + bm - 1) / bm;
  GemmParams p = {
    .M = M, .N = N, .K = K,
    .a_off = (uint32_t) a.offset, .a_bs = (uint32_t) a.batch_stride,
    .b_off = (uint32_t) b.offset, .b_bs = (uint32_t) b.batch_stride,
    .c_off = (uint32_t) c.offset, .c_ld = (uint32_t) c.ld, .c_bs = (uint32_t) c.batch_stride,
    .alpha = alpha, .beta = beta,
  };
  operand_strides (&a, &p.a_rs, &p.a_cs);
  operand_strides (&b, &p.b_rs, &p.b_cs);
  DaeVkArg args[] = { {a.t, false}, {b.t, false}, {c.t, true}, {bias, false} };
  dae_vk_tiles_dispatch (s, "gemm", &t, 0, args, 4, &p, sizeof p, gx, gy, (uint32_t) batch);
}

void
dae_vk_gemm (DaeStream * s, int M, int N, int K, int batch, DaeVkMat a, DaeVkMat b,
    DaeVkMat c, float alpha, float beta)
{
  dae_vk_gemm_bias (s, M, N, K, batch, a, b, c, alpha, beta, NULL, false);
}
