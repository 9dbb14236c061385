/* Vulkan: 3x3 convolutions (padding 1, stride 1) by Winograd's F(m x m, 3x3), m = 2 or 4,
 * forward only (shaders/winograd.comp): (m+2)^2 GEMMs of Cout x Cin by Cin x tiles between a
 * transform of the weights, one of the input and one of the output. 2.25x (m = 2) or 4x
 * (m = 4) fewer multiplications than the implicit GEMM of conv2d.comp, for transforms that
 * are memory traffic; taken on the lavapipe profile, where the loads of the GEMM, not its
 * arithmetic, set the speed (doc/performance.md). The transforms add and subtract before
 * multiplying, so rounding differs from the direct sum: relative errors of a few 1e-7 (m = 2)
 * to 1e-6 (m = 4) of the output's magnitude on the tests' random data. The transformed
 * weights are kept per stream while the weights are not written (dae_vk_derived): every step
 * of a decode and every frame of a stream convolves by the same weights, and the transform
 * was a quarter of the time of the wide 8x8 layers. */
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
/* Default bound of a stream's cache of transformed weights, in MiB. The ffhq64 UNet's wide
 * layers in F(4x4) need about 1.1 GB; the 32x32 models' a few tens of MB. */
#define WEIGHT_CACHE_MB 1024

typedef struct {
  uint32_t nimg, cin, cout, h, w;
  uint32_t th, tw, tiles;
  float inv_tw, inv_thw;
  uint32_t tile_major;
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

/* Floats of the transformed weights U: (m + 2)^2 x Cout x Cin. */
static size_t
weights_transform_numel (int m, size_t cin, size_t cout)
{
  return (size_t) xi_count (m) * cout * cin;
}

/* Workgroups over the tiles: the output transform's grid columns, the texel input
 * transform's grid rows (LOCAL_1D tiles each). */
static uint32_t
tile_groups (const WinoParams * p)
{
  return (p->tiles + LOCAL_1D - 1) / LOCAL_1D;
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
  uint32_t groups = tile_groups (p);
  return most <= cap && p->tiles < (1u << 24) && groups <= lim->maxComputeWorkGroupCount[0] &&
      groups <= lim->maxComputeWorkGroupCount[1] &&
      MAX (p->cin, p->cout) <= lim->maxComputeWorkGroupCount[1] &&
      p->cin / 4 <= lim->maxComputeWorkGroupCount[0];
}

/* $DIFFAE_VK_WINOGRAD_CACHE_MB, or the default; 0 turns the cache off. */
static size_t
weight_cache_budget (void)
{
  const char *env = g_getenv ("DIFFAE_VK_WINOGRAD_CACHE_MB");
  return (size_t) (env ? g_ascii_strtoull (env, NULL, 10) : WEIGHT_CACHE_MB) << 20;
}

/* Where it pays (the lavapipe profile with texel views), the tile size to take. The GEMMs
 * have a short K (Cin) and store every transformed value, stores that lavapipe runs lane by
 * lane, so it takes enough channels and tiles. Measured (conv3x3 forward on lavapipe,
 * GFLOP/s of the direct convolution's count; direct / F(2x2) / F(4x4)): 64x64x64 batch 1
 * 33 / 20 / 36, batch 8 31 / 22 / 44; 32x32x128 batch 1 33 / 41 / 56, batch 8 34 / 40 / 72;
 * 16x16x256 batch 1 36 / 26-40 / 17, batch 8 36 / 56 / 91; 8x8x512 batch 1 29 / 11 / 5,
 * batch 8 36 / 57 / 40; 8x8x64 batch 32 32 / 27 / 43; 32x32x32 batch 32 30 / 16 / 28.
 * Once the weights' transform is cached (weights not written since the last call, as in a
 * decode) and with few tiles run tile-major, the wide layers pay with 16 tiles: 16x16x256
 * batch 1 34 direct against 67 in F(4x4); 8x8x512 batch 1 27 against 50 in F(2x2), batch 8
 * 62 in F(2x2) against 87 in F(4x4). */
static int
paying_tile (DaeStream * s, const DaeTensor * x, const DaeTensor * w)
{
  DaeVkTiles t = dae_vk_gemm_tiles (s, w->n, 512, true, true);
  if (!dae_vk_gemm_is_cpu_profile (&t) || !t.texel)
    return 0;
  uint32_t tiles4 = wino_params (x, w, 4).tiles, tiles2 = wino_params (x, w, 2).tiles;
  if (x->c >= 64 && tiles4 >= 64)
    return 4;
  /* The few-tile cases pay only with the transform kept: weights seen unwritten, and room
   * for it in the cache. */
  bool wide = x->c >= 256 && (uint32_t) w->n >= 2 * dae_vk_tiles_bn (&t);
  size_t budget = weight_cache_budget ();
  if (wide && tiles4 >= 16 && dae_vk_derived_steady (s, w, 4,
          weights_transform_numel (4, x->c, w->n), budget))
    return 4;
  if (wide && tiles2 >= 16 && dae_vk_derived_steady (s, w, 2,
          weights_transform_numel (2, x->c, w->n), budget))
    return 2;
  if (x->c >= 128 && tiles2 >= 128)
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

/* The output transform's specialisation constants 1 and 2 (winograd.comp). */
typedef struct { uint32_t epilogue, store4; } OutputOptions;

/* One transform over a grid of (count / LOCAL_1D) x rows workgroups; its _texel variant,
 * where texel > 0, reads binding 1 through a view of `texel` floats per texel. out: the
 * output transform's options, NULL for the others. */
static void
transform (DaeStream * s, const char *op, int m, int texel, const DaeVkArg * args, int nargs,
    const WinoParams * p, uint32_t count, uint32_t rows, const OutputOptions * out)
{
  uint32_t spec[3] = { LOCAL_1D }, gx = (count + LOCAL_1D - 1) / LOCAL_1D;
  int nspec = 1;
  if (out) {
    spec[1] = out->epilogue, spec[2] = out->store4;
    nspec = 3;
  }
  char name[64];
  g_snprintf (name, sizeof name, "winograd%d_%s%s", m, op, texel ? "_texel" : "");
  if (!texel) {
    dae_vk_dispatch (s, name, spec, nspec, args, nargs, p, sizeof *p, gx, rows, 1);
    return;
  }
  const uint8_t texels[DAE_VK_TEXEL_VIEWS] = { 0, (uint8_t) texel };
  dae_vk_dispatch_texels (s, name, spec, nspec, args, nargs, texels, p, sizeof *p, gx, rows,
      1);
}

/* U = G w G^T for every (cout, cin), into the stream's cache where w has been transformed
 * before and not written since (then nothing is recorded), else into scratch. */
static const DaeTensor *
transformed_weights (DaeStream * s, int m, const DaeTensor * w, const WinoParams * p)
{
  size_t numel = weights_transform_numel (m, p->cin, p->cout);
  bool stale = true;
  const DaeTensor *u = dae_vk_derived (s, w, (uint32_t) m, numel, weight_cache_budget (),
      &stale);
  if (!u)
    u = dae_vk_scratch (s, SLOT_U, numel);
  if (!u || !stale)
    return u;
  /* The texel variant takes four input channels per invocation (Cin % 4 == 0 here). */
  bool w4 = dae_vk_texels_enabled (s) && w->offset % 4 == 0;
  DaeVkArg wargs[] = { {u, true}, {w, false} };
  transform (s, "weights", m, w4 ? 4 : 0, wargs, 2, p, w4 ? p->cin / 4 : p->cin, p->cout,
      NULL);
  return u;
}

/* Whether the GEMMs run tile-major, M^T = V U^T with the tiles as rows (T x Cout per
 * position), rather than M = U V^T with the output channels as rows. The lavapipe engine
 * gives each of its lanes interleaved columns of C (bn per workgroup: 128); with fewer tiles
 * than that as columns, most lanes compute clamped copies, while with the tiles as rows
 * every lane has output channels to compute. Measured on lavapipe, F(4x4) with cached
 * weights, GFLOP/s channel- / tile-major: 16x16x256 batch 1 (16 tiles) 22 / 67, 8x8x512
 * batch 8 (32 tiles) 59 / 87; at 128 output channels no gain (32x32x128 batch 1, 64 tiles:
 * 44-59 / 43-56). $DIFFAE_VK_WINOGRAD_LAYOUT=tiles|channels forces one (tests run both). */
static bool
tile_major (DaeStream * s, const WinoParams * p)
{
  const char *env = g_getenv ("DIFFAE_VK_WINOGRAD_LAYOUT");
  if (env && (strcmp (env, "tiles") == 0 || strcmp (env, "channels") == 0))
    return strcmp (env, "tiles") == 0;
  DaeVkTiles t = dae_vk_gemm_tiles (s, (int) p->cout, (int) p->tiles, true, true);
  return p->tiles < dae_vk_tiles_bn (&t) && p->cout >= 2 * dae_vk_tiles_bn (&t);
}

/* Whether F(4x4)'s input transform can read x's rows as vec4 texels: rows and planes start
 * on 4-float boundaries. */
static bool
row_fetch_fits (const DaeTensor * x)
{
  return x->w % 4 == 0 && dae_vk_aligned4 (x, 0) && x->nstride % 4 == 0;
}

/* The (m+2)^2 products of the transformed weights U (Cout, Cin) by the transformed input V
 * (T, Cin) into M, channel- or tile-major. */
static void
transformed_products (DaeStream * s, const WinoParams * p, int m, const DaeTensor * u,
    const DaeTensor * v, const DaeTensor * mt)
{
  int xi = (int) xi_count (m), cout = (int) p->cout, cin = (int) p->cin, T = (int) p->tiles;
  size_t nu = (size_t) cout * cin, nv = (size_t) cin * T, nm = (size_t) cout * T;
  if (p->tile_major) {
    /* M^T (T, Cout) = V (T, Cin) U^T: both operands contiguous along k (vec4 fetches). */
    DaeVkMat a = { v, 0, nv, cin, false }, b = { u, 0, nu, cin, true };
    DaeVkMat c = { mt, 0, nm, cout, false };
    dae_vk_gemm (s, T, cout, cin, xi, a, b, c, 1.0f, 0.0f);
    return;
  }
  /* V is stored (T, Cin) per transformed position: op(B) = V^T, contiguous along k. */
  DaeVkMat a = { u, 0, nu, cin, false }, b = { v, 0, nv, cin, true };
  DaeVkMat c = { mt, 0, nm, T, false };
  dae_vk_gemm (s, cout, T, cin, xi, a, b, c, 1.0f, 0.0f);
}

void
dae_vk_winograd_forward (DaeStream * s, int m, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, bool accumulate)
{
  WinoParams p = wino_params (x, w, m);
  size_t T = p.tiles, xi = xi_count (m);
  const DaeTensor *u = transformed_weights (s, m, w, &p);
  const DaeTensor *v = u ? dae_vk_scratch (s, SLOT_V, xi * p.cin * T) : NULL;
  const DaeTensor *mt = v ? dae_vk_scratch (s, SLOT_M, xi * p.cout * T) : NULL;
  if (!mt)
    return;
  bool texel = dae_vk_texels_enabled (s);
  /* The texel variants of the input transform take four input channels per invocation, a
   * grid row LOCAL_1D tiles; the one for F(4x4) reads rows of x as vec4s where they are
   * aligned. Against one tile per lane (whose vec4 stores each filled a quarter of a cache
   * line) and scalar fetches, on lavapipe (doc/performance.md): 64x64x64 batch 8 26.4-28.1
   * -> 15.9-17.7 ms, 32x32x128 batch 8 11.1-11.3 -> 8.6-9.5 ms. */
  DaeVkArg iargs[] = { {v, true}, {x, false} };
  if (!texel)
    transform (s, "input", m, 0, iargs, 2, &p, p.tiles, p.cin, NULL);
  else if (m == 4 && row_fetch_fits (x))
    transform (s, "input_rows", m, 4, iargs, 2, &p, p.cin / 4 * LOCAL_1D, tile_groups (&p),
        NULL);
  else
    transform (s, "input", m, 1, iargs, 2, &p, p.cin / 4 * LOCAL_1D, tile_groups (&p), NULL);
  p.tile_major = tile_major (s, &p);
  transformed_products (s, &p, m, u, v, mt);
  OutputOptions out = {
    .epilogue = dae_vk_conv_epilogue (b != NULL, accumulate),
    .store4 = texel && m == 4 && p.h % 4 == 0 && p.w % 4 == 0 && y->offset % 4 == 0 &&
        y->nstride % 4 == 0,
  };
  DaeVkArg oargs[] = { {y, true}, {mt, false}, {b, false} };
  transform (s, "output", m, texel ? 1 : 0, oargs, 3, &p, p.tiles, p.cout, &out);
}
