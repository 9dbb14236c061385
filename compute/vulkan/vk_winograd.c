/* Vulkan: 3x3 convolutions (padding 1, stride 1) by Winograd's F(m x m, 3x3), m = 2 or 4,
 * forward only (shaders/winograd.comp): (m+2)^2 GEMMs of Cout x Cin by Cin x tiles between a
 * transform of the weights, one of the input and one of the output. 2.25x (m = 2) or 4x
 * (m = 4) fewer multiplications than the implicit GEMM of conv2d.comp, for transforms that
 * are memory traffic; taken on the lavapipe profile, where the loads of the GEMM, not its
 * arithmetic, set the speed (doc/performance.md). The transforms add and subtract before
 * multiplying, so rounding differs from the direct sum: relative errors of a few 1e-7 (m = 2)
 * to 1e-6 (m = 4) of the output's magnitude on the tests' random data. */
#include "vk_winograd.h"

#include <stdlib.h>
#include <string.h>

#include "vk_gemm.h"

#define LOCAL_1D 64
#define SLOT_U 3
#define SLOT_V 4
#define SLOT_M 5
/* No transform larger than this many floats (256 MiB), whatever the device allows. */
#define MAX_TRANSFORM (64u << 20)

typedef struct {
  uint32_t nimg, cin, cout, h, w;
  uint32_t th, tw, tiles;
  float inv_tw, inv_thw;
  uint32_t has_bias, accumulate;
  uint32_t store4;
} WinoParams;

/* The layout of F(m x m, 3x3) over x: tiles of m x m outputs. */
static WinoParams
wino_params (const DaeTensor * x, const DaeTensor * w, int m)
{
  uint32_t th = (x->h + m - 1) / m, tw = (x->w + m - 1) / m;
  WinoParams p = {
    .nimg = x->n, .cin = x->c, .cout = w->n, .h = x->h, .w = x->w,
    .th = th, .tw = tw, .tiles = x->n * th * tw,
    .inv_tw = 1.0f / (float) tw, .inv_thw = 1.0f / (float) (th * tw),
  };
  return p;
}

/* Transformed values per tile: (m + 2)^2. */
static uint32_t
xi_count (int m)
{
  return (uint32_t) ((m + 2) * (m + 2));
}

/* Whether F(m x m, 3x3) fits s's device: transforms within its buffer and texel-view limits
 * and its grid. */
static bool
fits (DaeStream * s, const WinoParams * p, int m)
{
  const VkPhysicalDeviceLimits *lim = &dae_vk_dev (s->be)->props.limits;
  size_t most = (size_t) xi_count (m) * MAX (p->cin, p->cout) * MAX ((size_t) p->tiles, p->cin);
  size_t cap = MIN ((size_t) MAX_TRANSFORM, lim->maxStorageBufferRange / 4);
  cap = MIN (cap, (size_t) lim->maxTexelBufferElements);
  uint32_t groups = (p->tiles + LOCAL_1D - 1) / LOCAL_1D;
  return most <= cap && p->tiles < (1u << 24) && groups <= lim->maxComputeWorkGroupCount[0] &&
      MAX (p->cin, p->cout) <= lim->maxComputeWorkGroupCount[1];
}

/* Where it pays (the lavapipe profile with texel views), the tile size to take. The GEMMs
 * have a short K (Cin) and store every transformed value, stores that lavapipe runs lane by
 * lane, so it takes enough channels and tiles. Measured (conv3x3 forward on lavapipe,
 * GFLOP/s of the direct convolution's count; direct / F(2x2) / F(4x4)): 64x64x64 batch 1
 * 33 / 20 / 36, batch 8 31 / 22 / 44; 32x32x128 batch 1 33 / 41 / 56, batch 8 34 / 40 / 72;
 * 16x16x256 batch 1 36 / 26-40 / 17, batch 8 36 / 56 / 91; 8x8x512 batch 1 29 / 11 / 5,
 * batch 8 36 / 57 / 40; 8x8x64 batch 32 32 / 27 / 43; 32x32x32 batch 32 30 / 16 / 28. */
static int
paying_tile (DaeStream * s, const DaeTensor * x, const DaeTensor * w)
{
  DaeVkTiles t = dae_vk_gemm_tiles (s, w->n, 512, true, true);
  if (!dae_vk_gemm_is_cpu_profile (&t) || !t.texel)
    return 0;
  if (x->c >= 64 && wino_params (x, w, 4).tiles >= 64)
    return 4;
  if (x->c >= 128 && wino_params (x, w, 2).tiles >= 128)
    return 2;
  return 0;
}

int
dae_vk_winograd_tile (DaeStream * s, const DaeTensor * x, const DaeTensor * w)
{
  const char *env = g_getenv ("DIFFAE_VK_WINOGRAD");
  if ((env && strcmp (env, "0") == 0) || w->h != 3 || w->w != 3 || x->c % 4 != 0)
    return 0;
  int m = env && (strcmp (env, "2") == 0 || strcmp (env, "4") == 0) ? atoi (env) :
      paying_tile (s, x, w);
  if (m == 0)
    return 0;
  WinoParams p = wino_params (x, w, m);
  return fits (s, &p, m) ? m : 0;
}

/* One transform over a grid of (count / LOCAL_1D) x rows workgroups; its _texel variant,
 * where texel > 0, reads binding 1 through a view of `texel` floats per texel. */
static void
transform (DaeStream * s, const char *op, int m, int texel, const DaeVkArg * args, int nargs,
    const WinoParams * p, uint32_t count, uint32_t rows)
{
  uint32_t spec[] = { LOCAL_1D }, gx = (count + LOCAL_1D - 1) / LOCAL_1D;
  char name[64];
  g_snprintf (name, sizeof name, "winograd%d_%s%s", m, op, texel ? "_texel" : "");
  if (!texel) {
    dae_vk_dispatch (s, name, spec, 1, args, nargs, p, sizeof *p, gx, rows, 1);
    return;
  }
  const uint8_t texels[DAE_VK_TEXEL_VIEWS] = { 0, (uint8_t) texel };
  dae_vk_dispatch_texels (s, name, spec, 1, args, nargs, texels, p, sizeof *p, gx, rows, 1);
}

void
dae_vk_winograd_forward (DaeStream * s, int m, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, bool accumulate)
{
  WinoParams p = wino_params (x, w, m);
  p.has_bias = b != NULL;
  p.accumulate = accumulate;
  size_t T = p.tiles, xi = xi_count (m);
  const DaeTensor *u = dae_vk_scratch (s, SLOT_U, xi * p.cout * p.cin);
  const DaeTensor *v = u ? dae_vk_scratch (s, SLOT_V, xi * p.cin * T) : NULL;
  const DaeTensor *mt = v ? dae_vk_scratch (s, SLOT_M, xi * p.cout * T) : NULL;
  if (!mt)
    return;
  bool texel = dae_vk_texels_enabled (s);
  /* The texel variants of the weight and input transforms take four input channels per
   * invocation (Cin % 4 == 0 here). */
  bool w4 = texel && w->offset % 4 == 0;
  DaeVkArg wargs[] = { {u, true}, {w, false} };
  transform (s, "weights", m, w4 ? 4 : 0, wargs, 2, &p, w4 ? p.cin / 4 : p.cin, p.cout);
  DaeVkArg iargs[] = { {v, true}, {x, false} };
  transform (s, "input", m, texel ? 1 : 0, iargs, 2, &p, p.tiles, texel ? p.cin / 4 : p.cin);
  DaeVkMat mu = { u, 0, (size_t) p.cout * p.cin, (int) p.cin, false };
  /* V is stored (T, Cin) per transformed position: op(B) = V^T, contiguous along k. */
  DaeVkMat mv = { v, 0, (size_t) p.cin * T, (int) p.cin, true };
  DaeVkMat mm = { mt, 0, (size_t) p.cout * T, (int) T, false };
  dae_vk_gemm (s, (int) p.cout, (int) T, (int) p.cin, (int) xi, mu, mv, mm, 1.0f, 0.0f);
  p.store4 = m == 4 && p.h % 4 == 0 && p.w % 4 == 0 && y->offset % 4 == 0 &&
      y->nstride % 4 == 0;
  DaeVkArg oargs[] = { {y, true}, {mt, false}, {b, false} };
  transform (s, "output", m, texel ? 1 : 0, oargs, 3, &p, p.tiles, p.cout);
}
