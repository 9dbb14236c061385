/* Vulkan: GroupNorm and LayerNorm fused with modulation, SiLU and dropout
 * (shaders/groupnorm.comp, shaders/layernorm.comp; the passes are described there).
 *
 * GroupNorm forward: gn_stats (partial statistics of each chunk of each group, and the
 * per-(n, c) affine coefficients) -> gn_apply (combines the partials, writes y and stats).
 * Backward: gn_bwd_sums (per-(n, c) sums over chunks of the plane) -> gn_bwd_params and
 * gn_bwd_dx, which are independent of each other. All reductions have a fixed order: results
 * are identical run to run. Both norms keep their partials in stream scratch slot 0. */
#include "vk_backend.h"

#include <string.h>

/* Work shapes per device. lavapipe runs a workgroup per CPU thread in 8-lane SIMD, and a
 * barrier is costly: every pass uses one 8-lane subgroup per workgroup with long per-lane
 * loops (1024 elements per workgroup measured fastest for the elementwise passes). GPUs want
 * wide workgroups (subgroup sums, then shared memory across subgroups). */
typedef struct {
  uint32_t reduce_local;        /* workgroup width of the reductions */
  uint32_t reduce_per_lane;     /* elements per lane in one chunk of a reduction */
  uint32_t apply_local;         /* workgroup width of the elementwise passes */
  uint32_t apply_per_lane;      /* elements per lane in those passes */
  uint32_t ln_local;            /* LayerNorm: workgroup width per sample */
} NormProfile;

static const NormProfile lavapipe_profile = { 8, 512, 8, 128, 8 };
static const NormProfile gpu_profile = { 256, 16, 256, 4, 256 };

/* $DIFFAE_VK_PROFILE=cpu|gpu overrides the choice by device type, so that the tests run the
 * GPU profile's code path (several subgroups per workgroup) on lavapipe too. */
static const NormProfile *
norm_profile (DaeStream * s)
{
  const char *force = g_getenv ("DIFFAE_VK_PROFILE");
  if (force && strcmp (force, "gpu") == 0)
    return &gpu_profile;
  if (force && strcmp (force, "cpu") == 0)
    return &lavapipe_profile;
  return dae_vk_dev (s->be)->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ?
      &lavapipe_profile : &gpu_profile;
}

static uint32_t
div_up (size_t a, size_t b)
{
  return (uint32_t) ((a + b - 1) / b);
}

/* A grid row count of `rows` workgroups must fit the device's y limit. */
static bool
rows_fit (DaeStream * s, const char *op, uint32_t rows)
{
  uint32_t max = dae_vk_dev (s->be)->props.limits.maxComputeWorkGroupCount[1];
  if (rows <= max)
    return true;
  dae_stream_fail (s, DAE_ERR_INVALID, "%s: %u (sample, channel) planes exceed the device's "
      "%u workgroups per grid row", op, rows, max);
  return false;
}

/* The first non-NULL of up to four tensors. Sync validation assumes that a shader writes
 * every writable binding, so a NULL gradient must not leave the shared dummy buffer in a
 * writable slot: the next dispatch reading the dummy would be reported as a hazard. Such a
 * slot gets another output of the same dispatch instead (the flags keep the shader from
 * writing through it). */
static const DaeTensor *
first_of (const DaeTensor * a, const DaeTensor * b, const DaeTensor * c, const DaeTensor * d)
{
  return a ? a : b ? b : c ? c : d;
}

/* ---- GroupNorm ---------------------------------------------------------------------------- */

/* Matches the push block of groupnorm.comp. */
typedef struct {
  uint32_t N, C, cpg, hw;
  uint32_t chunk, chunks;
  uint32_t flags;
  float eps;
  float dropout, keep_scale;
  uint32_t seed;
} GnParams;

enum {
  GN_SILU = 1, GN_SCALESHIFT = 2, GN_ZSCALE = 4,
  GN_DGAMMA = 8, GN_DBETA = 16, GN_DSCALESHIFT = 32, GN_DZSCALE = 64,
};

static GnParams
gn_params (const DaeTensor * x, const DaeGroupNormArgs * a, uint32_t chunk, size_t len)
{
  GnParams p = {
    .N = (uint32_t) x->n,
    .C = (uint32_t) x->c,
    .cpg = (uint32_t) (x->c / a->groups),
    .hw = (uint32_t) x->h * (uint32_t) x->w,
    .chunk = chunk,
    .chunks = div_up (len, chunk),
    .flags = (a->silu ? GN_SILU : 0) | (a->scaleshift ? GN_SCALESHIFT : 0) |
        (a->zscale ? GN_ZSCALE : 0),
    .eps = a->eps,
    .dropout = a->dropout,
    .keep_scale = a->dropout > 0.0f ? 1.0f / (1.0f - a->dropout) : 1.0f,
    .seed = a->seed,
  };
  return p;
}

/* gn_apply_vec4 on the lavapipe profile with texel views, where every plane of x and y starts
 * on a multiple of 4 floats ($DIFFAE_VK_TEXEL=0 keeps the scalar pass). */
static bool
apply_vec4 (DaeStream * s, const NormProfile * pr, const DaeTensor * y, const DaeTensor * x)
{
  size_t hw = (size_t) x->h * x->w;
  return pr == &lavapipe_profile && pr->apply_per_lane % 4 == 0 && dae_vk_texels_enabled (s) &&
      hw % 4 == 0 && x->nstride % 4 == 0 && y->nstride % 4 == 0 && x->offset % 4 == 0 &&
      y->offset % 4 == 0;
}

static void
vk_groupnorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeGroupNormArgs * a)
{
  const NormProfile *pr = norm_profile (s);
  size_t hw = (size_t) x->h * x->w, len = (size_t) (x->c / a->groups) * hw;
  uint32_t groups = (uint32_t) (x->n * a->groups), planes = (uint32_t) (x->n * x->c);
  GnParams p = gn_params (x, a, pr->reduce_local * pr->reduce_per_lane, len);
  if (!rows_fit (s, "groupnorm_forward", planes))
    return;
  const DaeTensor *scratch = dae_vk_scratch (s, 0, 2 * (size_t) planes +
      2 * (size_t) groups * p.chunks);
  if (!scratch)
    return;

  DaeVkArg stat_args[] = { {scratch, true}, {x, false}, {a->gamma, false}, {a->beta, false},
  {a->scaleshift, false}, {a->zscale, false}
  };
  uint32_t spec[] = { pr->reduce_local, 1 };
  dae_vk_dispatch (s, "gn_stats", spec, 2, stat_args, G_N_ELEMENTS (stat_args), &p, sizeof p,
      p.chunks, groups, 1);

  DaeVkArg apply_args[] = { {y, true}, {x, false}, {scratch, false}, {stats, true} };
  uint32_t apply_spec[] = { pr->apply_local, pr->apply_per_lane };
  uint32_t gx = div_up (hw, pr->apply_local * pr->apply_per_lane);
  if (apply_vec4 (s, pr, y, x)) {
    static const uint8_t texels[DAE_VK_TEXEL_VIEWS] = { 0, 4 };
    dae_vk_dispatch_texels (s, "gn_apply_vec4", apply_spec, 2, apply_args,
        G_N_ELEMENTS (apply_args), texels, &p, sizeof p, gx, planes, 1);
    return;
  }
  dae_vk_dispatch (s, "gn_apply", apply_spec, 2, apply_args, G_N_ELEMENTS (apply_args), &p,
      sizeof p, gx, planes, 1);
}

static void
vk_groupnorm_backward (DaeStream * s, const DaeTensor * dx, const DaeGroupNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeGroupNormArgs * a)
{
  const NormProfile *pr = norm_profile (s);
  size_t hw = (size_t) x->h * x->w;
  uint32_t planes = (uint32_t) (x->n * x->c);
  GnParams p = gn_params (x, a, pr->reduce_local * pr->reduce_per_lane, hw);
  p.flags |= (g->dgamma ? GN_DGAMMA : 0) | (g->dbeta ? GN_DBETA : 0) |
      (g->dscaleshift ? GN_DSCALESHIFT : 0) | (g->dzscale ? GN_DZSCALE : 0);
  bool params = g->dgamma || g->dbeta || g->dscaleshift || g->dzscale;
  if ((!dx && !params) || !rows_fit (s, "groupnorm_backward", planes))
    return;
  const DaeTensor *scratch = dae_vk_scratch (s, 0, 2 * (size_t) planes +
      3 * (size_t) planes * p.chunks);
  if (!scratch)
    return;

  DaeVkArg sum_args[] = { {scratch, true}, {x, false}, {dy, false}, {stats, false},
  {a->gamma, false}, {a->beta, false}, {a->scaleshift, false}, {a->zscale, false}
  };
  uint32_t spec[] = { pr->reduce_local, 1 };
  dae_vk_dispatch (s, "gn_bwd_sums", spec, 2, sum_args, G_N_ELEMENTS (sum_args), &p,
      sizeof p, p.chunks, planes, 1);

  if (params) {
    const DaeTensor *any = first_of (g->dscaleshift, g->dzscale, g->dgamma, g->dbeta);
    DaeVkArg param_args[] = { {g->dscaleshift ? g->dscaleshift : any, true},
    {g->dzscale ? g->dzscale : any, true}, {g->dgamma ? g->dgamma : any, true},
    {g->dbeta ? g->dbeta : any, true}, {scratch, false}, {a->scaleshift, false},
    {a->zscale, false}
    };
    uint32_t gx, gy, pspec[] = { 64, 1 };
    dae_vk_grid_1d (s, (size_t) planes + x->c, 64, &gx, &gy);
    dae_vk_dispatch (s, "gn_bwd_params", pspec, 2, param_args, G_N_ELEMENTS (param_args), &p,
        sizeof p, gx, gy, 1);
  }
  if (dx) {
    DaeVkArg dx_args[] = { {dx, true}, {x, false}, {dy, false}, {stats, false},
    {scratch, false}
    };
    uint32_t dspec[] = { pr->apply_local, pr->apply_per_lane };
    dae_vk_dispatch (s, "gn_bwd_dx", dspec, 2, dx_args, G_N_ELEMENTS (dx_args), &p, sizeof p,
        div_up (hw, pr->apply_local * pr->apply_per_lane), planes, 1);
  }
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

/* Matches the push block of layernorm.comp. */
typedef struct {
  uint32_t N, C;
  uint32_t flags;
  float eps;
  float dropout, keep_scale;
  uint32_t seed;
} LnParams;

enum {
  LN_SILU = 1, LN_PRESCALE = 2, LN_DX = 4, LN_DPRESCALE = 8, LN_DGAMMA = 16, LN_DBETA = 32,
};

static LnParams
ln_params (const DaeTensor * x, const DaeLayerNormArgs * a)
{
  LnParams p = {
    .N = (uint32_t) x->n,
    .C = (uint32_t) x->c,
    .flags = (a->silu ? LN_SILU : 0) | (a->prescale ? LN_PRESCALE : 0),
    .eps = a->eps,
    .dropout = a->dropout,
    .keep_scale = a->dropout > 0.0f ? 1.0f / (1.0f - a->dropout) : 1.0f,
    .seed = a->seed,
  };
  return p;
}

static bool
samples_fit (DaeStream * s, const char *op, int n)
{
  uint32_t max = dae_vk_dev (s->be)->props.limits.maxComputeWorkGroupCount[0];
  if ((uint32_t) n <= max)
    return true;
  dae_stream_fail (s, DAE_ERR_INVALID, "%s: %d samples exceed the device's %u workgroups "
      "per grid row", op, n, max);
  return false;
}

static void
vk_layernorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeLayerNormArgs * a)
{
  if (!samples_fit (s, "layernorm_forward", x->n))
    return;
  LnParams p = ln_params (x, a);
  DaeVkArg args[] = { {y, true}, {stats, true}, {x, false}, {a->gamma, false},
  {a->beta, false}, {a->prescale, false}
  };
  uint32_t spec[] = { norm_profile (s)->ln_local };
  dae_vk_dispatch (s, "ln_fwd", spec, 1, args, G_N_ELEMENTS (args), &p, sizeof p,
      (uint32_t) x->n, 1, 1);
}

static void
vk_layernorm_backward (DaeStream * s, const DaeTensor * dx, const DaeLayerNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeLayerNormArgs * a)
{
  LnParams p = ln_params (x, a);
  p.flags |= (dx ? LN_DX : 0) | (g->dprescale ? LN_DPRESCALE : 0) |
      (g->dgamma ? LN_DGAMMA : 0) | (g->dbeta ? LN_DBETA : 0);
  if ((dx || g->dprescale) && samples_fit (s, "layernorm_backward", x->n)) {
    DaeVkArg args[] = { {dx ? dx : g->dprescale, true}, {g->dprescale ? g->dprescale : dx, true},
    {dy, false}, {x, false},
    {stats, false}, {a->gamma, false}, {a->beta, false}, {a->prescale, false}
    };
    uint32_t spec[] = { norm_profile (s)->ln_local };
    dae_vk_dispatch (s, "ln_bwd_dx", spec, 1, args, G_N_ELEMENTS (args), &p, sizeof p,
        (uint32_t) x->n, 1, 1);
  }
  if (g->dgamma || g->dbeta) {
    DaeVkArg args[] = { {g->dgamma ? g->dgamma : g->dbeta, true},
    {g->dbeta ? g->dbeta : g->dgamma, true}, {dy, false}, {x, false},
    {stats, false}, {a->gamma, false}, {a->beta, false}, {a->prescale, false}
    };
    uint32_t gx, gy, spec[] = { 64 };
    dae_vk_grid_1d (s, (size_t) x->c, 64, &gx, &gy);
    dae_vk_dispatch (s, "ln_bwd_params", spec, 1, args, G_N_ELEMENTS (args), &p, sizeof p,
        gx, gy, 1);
  }
}

void
dae_vk_register_norm (DaeOpsTable * t)
{
  t->groupnorm_forward = vk_groupnorm_forward;
  t->groupnorm_backward = vk_groupnorm_backward;
  t->layernorm_forward = vk_layernorm_forward;
  t->layernorm_backward = vk_layernorm_backward;
}
