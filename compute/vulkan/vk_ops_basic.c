/* Vulkan: elementwise ops (shaders/basic.comp), pooling, resampling, timestep embedding
 * (shaders/pool.comp). */
#include "vk_backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL 64

typedef struct {
  uint32_t per_sample, count, y_nstride, x_nstride;
  float alpha;
} ElementwiseParams;

static void elementwise (DaeStream * s, const char *shader, const DaeTensor * y,
    const DaeTensor * x, const DaeTensor * x2, float alpha);

/* A contiguous tensor seen as elements [first, first + count), flat. */
static DaeTensor
flat_range (const DaeTensor * t, size_t first, size_t count)
{
  DaeTensor v = *t;
  v.owned = false;
  v.offset = t->offset + first;
  v.n = v.c = v.h = 1;
  v.w = (int) count;
  v.nstride = count;
  return v;
}

/* Contiguous tensors larger than one binding may be (flat parameter buffers of large models:
 * 286 MB for ffhq64's UNet, while lavapipe binds at most 128 MiB) are processed in slices. */
static bool
elementwise_in_slices (DaeStream * s, const char *shader, const DaeTensor * y,
    const DaeTensor * x, const DaeTensor * x2, float alpha)
{
  size_t count = dae_tensor_numel (y);
  size_t slice = dae_vk_dev (s->be)->props.limits.maxStorageBufferRange / 4 / 2;
  if (count <= slice || !dae_tensor_is_contiguous (y) || (x && !dae_tensor_is_contiguous (x)) ||
      (x2 && !dae_tensor_is_contiguous (x2)))
    return false;
  for (size_t first = 0; first < count; first += slice) {
    size_t len = MIN (slice, count - first);
    DaeTensor ys = flat_range (y, first, len), xs, x2s;
    if (x)
      xs = flat_range (x, first, len);
    if (x2)
      x2s = flat_range (x2, first, len);
    elementwise (s, shader, &ys, x ? &xs : NULL, x2 ? &x2s : NULL, alpha);
  }
  return true;
}

/* The _vec4 variants (lavapipe): on CPU devices with texel views, unless $DIFFAE_VK_TEXEL=0;
 * each variant adds its own alignment conditions. */
static bool
texel_vec4_ok (DaeStream * s)
{
  return dae_vk_dev (s->be)->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU &&
      dae_vk_texels_enabled (s);
}

/* copy and axpy four at a time where y and x split into aligned groups of four. */
static bool
vec4_wanted (DaeStream * s, const char *shader, const DaeTensor * y, const DaeTensor * x)
{
  return x && (strcmp (shader, "basic_copy") == 0 || strcmp (shader, "basic_axpy") == 0) &&
      texel_vec4_ok (s) && dae_tensor_sample_size (y) % 4 == 0 && y->nstride % 4 == 0 &&
      x->nstride % 4 == 0 && y->offset % 4 == 0 && x->offset % 4 == 0;
}

/* One launch of basic.comp variant `shader` over y's elements. */
static void
elementwise (DaeStream * s, const char *shader, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * x2, float alpha)
{
  if (elementwise_in_slices (s, shader, y, x, x2, alpha))
    return;
  size_t count = dae_tensor_numel (y);
  ElementwiseParams p = {
    .per_sample = (uint32_t) dae_tensor_sample_size (y),
    .count = (uint32_t) count,
    .y_nstride = (uint32_t) y->nstride,
    .x_nstride = x ? (uint32_t) x->nstride : 0,
    .alpha = alpha,
  };
  DaeVkArg args[] = { {y, true}, {x, false}, {x2, false} };
  uint32_t gx, gy, spec[] = { LOCAL };
  if (vec4_wanted (s, shader, y, x)) {
    static const uint8_t texels[DAE_VK_TEXEL_VIEWS] = { 0, 4 };
    char name[64];
    g_snprintf (name, sizeof name, "%s_vec4", shader);
    dae_vk_grid_1d (s, count / 4, LOCAL, &gx, &gy);
    dae_vk_dispatch_texels (s, name, spec, 1, args, 3, texels, &p, sizeof p, gx, gy, 1);
    return;
  }
  dae_vk_grid_1d (s, count, LOCAL, &gx, &gy);
  dae_vk_dispatch (s, shader, spec, 1, args, 3, &p, sizeof p, gx, gy, 1);
}

static void
vk_fill (DaeStream * s, const DaeTensor * y, float value)
{
  elementwise (s, "basic_fill", y, NULL, NULL, value);
}

static void
vk_copy (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  elementwise (s, "basic_copy", y, x, NULL, 0.0f);
}

static void
vk_axpy (DaeStream * s, const DaeTensor * y, const DaeTensor * x, float alpha)
{
  elementwise (s, "basic_axpy", y, x, NULL, alpha);
}

static void
vk_silu_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  elementwise (s, "basic_silu_fwd", y, x, NULL, 0.0f);
}

static void
vk_silu_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy,
    const DaeTensor * x)
{
  elementwise (s, "basic_silu_bwd", dx, dy, x, 0.0f);
}

/* ---- pooling, resampling, timestep embedding (pool.comp) -------------------------------- */

/* Matches the push block of pool.comp. */
typedef struct {
  uint32_t count, h, w;
} PoolParams;

/* Workgroup width of the pool.comp launches: lavapipe's 8-lane SIMD likes short groups,
 * GPUs full warps. */
static uint32_t
pool_local (DaeStream * s)
{
  return dae_vk_dev (s->be)->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 64 : 256;
}

/* One launch of pool.comp variant `shader`, `count` invocations, writing y from x (and
 * reading x2 if not NULL). */
static void
pool (DaeStream * s, const char *shader, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * x2, size_t count, int h, int w)
{
  PoolParams p = { (uint32_t) count, (uint32_t) h, (uint32_t) w };
  DaeVkArg args[] = { {y, true}, {x, false}, {x2, false} };
  uint32_t gx, gy, spec[] = { pool_local (s) };
  dae_vk_grid_1d (s, count, spec[0], &gx, &gy);
  dae_vk_dispatch (s, shader, spec, 1, args, 3, &p, sizeof p, gx, gy, 1);
}

static void
vk_avgpool2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  pool (s, "pool_avgpool2_fwd", y, x, NULL, dae_tensor_numel (y), y->h, y->w);
}

static void
vk_avgpool2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  pool (s, "pool_avgpool2_bwd", dx, dy, NULL, dae_tensor_numel (dx), dy->h, dy->w);
}

static void
vk_upsample2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  if (texel_vec4_ok (s) && x->w % 2 == 0 && y->offset % 4 == 0) {
    /* one invocation per pair of input pixels (pool_upsample2_fwd_vec4) */
    size_t count = dae_tensor_numel (x) / 2;
    PoolParams p = { (uint32_t) count, (uint32_t) x->h, (uint32_t) x->w };
    DaeVkArg args[] = { {y, true}, {x, false} };
    static const uint8_t texels[DAE_VK_TEXEL_VIEWS] = { 0, 1 };
    uint32_t gx, gy, spec[] = { pool_local (s) };
    dae_vk_grid_1d (s, count, spec[0], &gx, &gy);
    dae_vk_dispatch_texels (s, "pool_upsample2_fwd_vec4", spec, 1, args, 2, texels, &p,
        sizeof p, gx, gy, 1);
    return;
  }
  pool (s, "pool_upsample2_fwd", y, x, NULL, dae_tensor_numel (y), x->h, x->w);
}

static void
vk_upsample2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  pool (s, "pool_upsample2_bwd", dx, dy, NULL, dae_tensor_numel (dx), dx->h, dx->w);
}

static void
vk_global_avgpool_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  pool (s, "pool_gap_fwd", y, x, NULL, dae_tensor_numel (y), x->h * x->w, 1);
}

static void
vk_global_avgpool_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  pool (s, "pool_gap_bwd", dx, dy, NULL, dae_tensor_numel (dx), dx->h * dx->w, 1);
}

/* The frequencies f_i = exp(-ln(10000) i / half) in float32 exactly as PyTorch computes them
 * go to the device in scratch slot 0; the shader forms the float32 argument t f_i and its
 * cos and sin. */
static void
vk_timestep_embedding (DaeStream * s, const DaeTensor * y, const DaeTensor * t)
{
  int half = y->c / 2;
  const DaeTensor *scratch = dae_vk_scratch (s, 0, (size_t) half);
  if (!scratch)
    return;
  DaeTensor all = dae_tensor_reshape (scratch, 1, (int) dae_tensor_numel (scratch), 1, 1);
  DaeTensor freqs = dae_tensor_view_channels (&all, 0, half);
  float *host = malloc ((size_t) half * sizeof *host);
  if (!host) {
    dae_stream_fail (s, DAE_ERR_OUT_OF_MEMORY, "timestep_embedding: out of host memory");
    return;
  }
  dae_timestep_frequencies (half, host);
  dae_tensor_write (s, &freqs, host);
  free (host);
  pool (s, "pool_timestep", y, t, &freqs, dae_tensor_numel (y), 1, y->c);
}

void
dae_vk_register_basic (DaeOpsTable * t)
{
  t->fill = vk_fill;
  t->copy = vk_copy;
  t->axpy = vk_axpy;
  t->silu_forward = vk_silu_forward;
  t->silu_backward = vk_silu_backward;
  t->avgpool2_forward = vk_avgpool2_forward;
  t->avgpool2_backward = vk_avgpool2_backward;
  t->upsample2_forward = vk_upsample2_forward;
  t->upsample2_backward = vk_upsample2_backward;
  t->global_avgpool_forward = vk_global_avgpool_forward;
  t->global_avgpool_backward = vk_global_avgpool_backward;
  t->timestep_embedding = vk_timestep_embedding;
}
