/* Vulkan: losses, gradient norms, Adam and EMA (shaders/loss.comp, shaders/optim.comp).
 *
 * Sums are deterministic two-pass reductions: up to max_groups workgroups each write the sum
 * of one fixed chunk, then one workgroup adds those partial sums in order. Small inputs take
 * a single workgroup that writes the result directly (no barrier at all). The partial sums
 * go to a ring of segments in a scratch tensor, so that consecutive sums (one per parameter
 * tensor in an optimiser step) do not write the same memory: a large sum needs one barrier,
 * between its own two passes, and none against the sums before it. */
#include "vk_backend.h"

#include <math.h>

#define ELEMENTWISE_LOCAL 64
#define RING_SEGMENTS 16
#define RING_SCRATCH_SLOT 3

typedef struct {
  uint32_t local;               /* lanes per workgroup (a power of two) */
  uint32_t max_groups;          /* workgroups of the first pass */
  uint32_t min_chunk;           /* fewest elements worth a workgroup */
} ReduceProfile;

/* lavapipe runs a workgroup per CPU thread: few, small groups. GPUs: many wide groups. */
static ReduceProfile
reduce_profile (DaeStream * s)
{
  if (dae_vk_dev (s->be)->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
    return (ReduceProfile) {.local = 64,.max_groups = 64,.min_chunk = 16384 };
  return (ReduceProfile) {.local = 256,.max_groups = 1024,.min_chunk = 4096 };
}

typedef struct {
  uint32_t count, chunk;
  float scale, max_norm;
} SumParams;

static void
sum_launch (DaeStream * s, const char *shader, const ReduceProfile * pr, const DaeTensor * a,
    const DaeTensor * b, const DaeTensor * dst, size_t count, uint32_t groups, float scale,
    float max_norm)
{
  uint32_t chunk = (uint32_t) ((count + groups - 1) / groups);
  SumParams p = {.count = (uint32_t) count,.chunk = chunk,.scale = scale,.max_norm = max_norm };
  DaeVkArg args[] = { {a, false}, {b, false}, {dst, true} };
  uint32_t spec[] = { pr->local };
  dae_vk_dispatch (s, shader, spec, 1, args, 3, &p, sizeof p, groups, 1, 1);
}

/* dst (one element) = scale * sum of the terms of `shader` over count elements of a (and b). */
static void
deterministic_sum (DaeStream * s, const char *shader, const DaeTensor * a, const DaeTensor * b,
    const DaeTensor * dst, float scale)
{
  static gint ring_next;
  ReduceProfile pr = reduce_profile (s);
  size_t count = dae_tensor_numel (a);
  size_t groups = MIN ((size_t) pr.max_groups, (count + pr.min_chunk - 1) / pr.min_chunk);
  if (groups <= 1) {
    sum_launch (s, shader, &pr, a, b, dst, count, 1, scale, 0.0f);
    return;
  }
  const DaeTensor *ring = dae_vk_scratch (s, RING_SCRATCH_SLOT,
      (size_t) RING_SEGMENTS * pr.max_groups);
  if (!ring)
    return;
  int segment = (int) ((guint) g_atomic_int_add (&ring_next, 1) % RING_SEGMENTS);
  DaeTensor partial = *ring;     /* a view of one segment */
  partial.owned = false;
  partial.n = partial.c = partial.h = 1;
  partial.w = (int) groups;
  partial.nstride = groups;
  partial.offset += (size_t) segment * pr.max_groups;
  sum_launch (s, shader, &pr, a, b, &partial, count, (uint32_t) groups, 1.0f, 0.0f);
  sum_launch (s, "loss_sum", &pr, &partial, NULL, dst, groups, 1, scale, 0.0f);
}

static void
loss (DaeStream * s, const char *sum_shader, const char *grad_shader, const DaeTensor * out,
    const DaeTensor * dpred, const DaeTensor * pred, const DaeTensor * target,
    float grad_scale)
{
  size_t count = dae_tensor_numel (pred);
  if (dpred) {
    SumParams p = {.count = (uint32_t) count,.scale = (float) ((double) grad_scale / count) };
    DaeVkArg args[] = { {pred, false}, {target, false}, {dpred, true} };
    uint32_t gx, gy, spec[] = { ELEMENTWISE_LOCAL };
    dae_vk_grid_1d (s, count, ELEMENTWISE_LOCAL, &gx, &gy);
    dae_vk_dispatch (s, grad_shader, spec, 1, args, 3, &p, sizeof p, gx, gy, 1);
  }
  deterministic_sum (s, sum_shader, pred, target, out, (float) (1.0 / (double) count));
}

static void
vk_mse_loss (DaeStream * s, const DaeTensor * out, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale)
{
  loss (s, "loss_sum_sqdiff", "loss_mse_grad", out, dpred, pred, target, grad_scale);
}

static void
vk_l1_loss (DaeStream * s, const DaeTensor * out, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale)
{
  loss (s, "loss_sum_absdiff", "loss_l1_grad", out, dpred, pred, target, grad_scale);
}

static void
vk_sumsq (DaeStream * s, const DaeTensor * out, const DaeTensor * x)
{
  deterministic_sum (s, "loss_sum_sq", x, NULL, out, 1.0f);
}

static void
vk_clip_factor (DaeStream * s, const DaeTensor * factor, const DaeTensor * sumsq,
    float max_norm)
{
  /* A few hundred slots at most: one workgroup. */
  ReduceProfile pr = reduce_profile (s);
  sum_launch (s, "loss_clip_factor", &pr, sumsq, NULL, factor, dae_tensor_numel (sumsq), 1,
      1.0f, max_norm);
}

typedef struct {
  uint32_t count, has_scale, decoupled;
  float wd, decay, beta1, beta2, one_m_beta1, one_m_beta2, eps, step_size, bc2_sqrt;
} AdamParams;

static void
vk_adam_update (DaeStream * s, const DaeTensor * param, const DaeTensor * grad,
    const DaeTensor * m, const DaeTensor * v, const DaeAdamArgs * a)
{
  DaeAdamScalars k = dae_adam_scalars (a);
  size_t count = dae_tensor_numel (param);
  AdamParams p = {
    .count = (uint32_t) count,
    .has_scale = a->grad_scale != NULL,
    .decoupled = a->decoupled,
    .wd = k.wd,
    .decay = k.decay,
    .beta1 = k.beta1,
    .beta2 = k.beta2,
    .one_m_beta1 = k.one_m_beta1,
    .one_m_beta2 = k.one_m_beta2,
    .eps = k.eps,
    .step_size = k.step_size,
    .bc2_sqrt = k.bc2_sqrt,
  };
  DaeVkArg args[] = { {param, true}, {grad, false}, {m, true}, {v, true},
  {a->grad_scale, false}
  };
  uint32_t gx, gy, spec[] = { ELEMENTWISE_LOCAL };
  dae_vk_grid_1d (s, count, ELEMENTWISE_LOCAL, &gx, &gy);
  dae_vk_dispatch (s, "optim_adam", spec, 1, args, 5, &p, sizeof p, gx, gy, 1);
}

typedef struct {
  uint32_t count;
  float keep, take;
} EmaParams;

static void
vk_ema_update (DaeStream * s, const DaeTensor * ema, const DaeTensor * param, float decay)
{
  size_t count = dae_tensor_numel (ema);
  EmaParams p = {.count = (uint32_t) count,.keep = decay,.take = (float) (1.0 - (double) decay) };
  DaeVkArg args[] = { {ema, true}, {param, false} };
  uint32_t gx, gy, spec[] = { ELEMENTWISE_LOCAL };
  dae_vk_grid_1d (s, count, ELEMENTWISE_LOCAL, &gx, &gy);
  dae_vk_dispatch (s, "optim_ema", spec, 1, args, 2, &p, sizeof p, gx, gy, 1);
}

void
dae_vk_register_train (DaeOpsTable * t)
{
  t->mse_loss = vk_mse_loss;
  t->l1_loss = vk_l1_loss;
  t->sumsq = vk_sumsq;
  t->clip_factor = vk_clip_factor;
  t->adam_update = vk_adam_update;
  t->ema_update = vk_ema_update;
}
