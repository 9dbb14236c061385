/* Vulkan: elementwise ops (shaders/basic.comp), pooling, resampling, timestep embedding. */
#include "vk_backend.h"

#define LOCAL 64

typedef struct {
  uint32_t per_sample, count, y_nstride, x_nstride;
  float alpha;
} ElementwiseParams;

/* One launch of basic.comp variant `shader` over y's elements. */
static void
elementwise (DaeStream * s, const char *shader, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * x2, float alpha)
{
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

void
dae_vk_register_basic (DaeOpsTable * t)
{
  t->fill = vk_fill;
  t->copy = vk_copy;
  t->axpy = vk_axpy;
  t->silu_forward = vk_silu_forward;
  t->silu_backward = vk_silu_backward;
}
