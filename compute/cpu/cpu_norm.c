/* CPU: GroupNorm and LayerNorm fused with their modulation, SiLU and dropout (see
 * compute/ops/dae_ops.h).
 *
 * GroupNorm: statistics per (sample, group) in double accumulators, threaded over
 * (sample, group); the apply is threaded over (sample, channel) with a per-(n, c) affine
 * u = (x - mean) * k + b that folds gamma, beta, scale, shift and zscale. The backward reduces
 * S1 = sum du and S2 = sum du * xh over each (n, c) plane (du: the gradient at the SiLU's
 * input); every parameter gradient and the group means the input gradient needs follow from
 * these two numbers, summed over samples in a fixed order (deterministic).
 *
 * LayerNorm: threaded over samples (statistics, apply, input gradient) and over blocks of
 * channels for dgamma and dbeta (samples summed in order).
 *
 * SiLU and dropout are recomputed in the backward rather than stored. Element loops work on
 * blocks of BLOCK values in stack buffers and are written so that GCC vectorises them. */
#include "cpu_backend.h"

#include <math.h>
#include <string.h>

/* Loops run on the pool (dae_cpu_parallel_for), threaded when large enough. */

/* ---- shared element functions (written so that the loops calling them vectorise) ------ */

/* The float with bit pattern u. */
static inline float
bits_to_float (uint32_t u)
{
  union {
    uint32_t u;
    float f;
  } v = {.u = u };
  return v.f;
}

/* exp(x) within about 2 ulp, branch-free so that the compiler vectorises it (libm's expf is
 * not vectorised without -ffast-math). x = q ln2 + r, |r| <= ln2/2, e^r by its Taylor series
 * to degree 7 (truncation below 1e-8 relative). */
static inline float
vec_expf (float x)
{
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;       /* (not fminf: it does not vectorise) */
  float q = (x * 1.44269504f + 12582912.0f) - 12582912.0f;       /* round to nearest */
  float r = x - q * 0.693145752f;
  r = r - q * 1.42860677e-06f;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * bits_to_float ((uint32_t) ((int32_t) q + 127) << 23);
}

static inline float
vec_sigmoid (float u)
{
  return 1.0f / (1.0f + vec_expf (-u));
}

/* What follows the affine in both norms: SiLU and dropout. Dropout keeps element i when
 * the 24-bit hash r of dae_dropout_keep satisfies (float) r >= p 2^24, that is r >= thresh
 * with thresh = ceil(p 2^24) (p 2^24 is exact in float). */
typedef struct {
  bool silu, dropout;
  int32_t thresh;
  float keep_scale;
  uint32_t seed_hash;
} Activation;

static Activation
activation (bool silu, float p, uint32_t seed)
{
  Activation act = {
    .silu = silu,
    .dropout = p > 0.0f,
    .thresh = (int32_t) ceilf (p * 16777216.0f),
    .keep_scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f,
    .seed_hash = dae_hash32 (seed),
  };
  return act;
}

/* The factor dropout applies to element i: 0 or 1/(1-p), branch-free. */
static inline float
dropout_factor (const Activation * act, uint32_t i)
{
  int32_t r = (int32_t) (dae_hash32 (i ^ act->seed_hash) >> 8);
  return (float) (r >= act->thresh) * act->keep_scale;
}

/* y = dropout(silu(u)) for n elements whose first has logical index `index`. */
static inline void
activate_row (float *y, const float *u, size_t n, uint32_t index, const Activation * act)
{
  if (act->silu) {
    for (size_t i = 0; i < n; i++)
      y[i] = u[i] * vec_sigmoid (u[i]);
  } else if (y != u) {
    memcpy (y, u, n * sizeof *y);
  }
  if (act->dropout) {
#pragma omp simd
    for (size_t i = 0; i < n; i++)
      y[i] *= dropout_factor (act, index + (uint32_t) i);
  }
}

/* du = dy * d(dropout(silu(u)))/du for n elements, in place over du (which holds dy). */
static inline void
activation_grad_row (float *du, const float *u, size_t n, uint32_t index,
    const Activation * act)
{
  if (act->dropout) {
#pragma omp simd
    for (size_t i = 0; i < n; i++)
      du[i] *= dropout_factor (act, index + (uint32_t) i);
  }
  if (act->silu) {
    for (size_t i = 0; i < n; i++) {
      float sg = vec_sigmoid (u[i]);
      du[i] *= sg * (1.0f + u[i] * (1.0f - sg));
    }
  }
}

/* Rows are processed in blocks of this many elements held in a small stack buffer. */
#define BLOCK 512

/* ---- GroupNorm ---------------------------------------------------------------------------- */

/* The modulation of channel c of sample n: scale, shift and zscale (0 when absent). */
typedef struct {
  float scale, shift, z;
} GnModulation;

static GnModulation
gn_modulation (const DaeGroupNormArgs * a, int n, int c, int C)
{
  GnModulation m = { 0 };
  if (a->scaleshift) {
    m.scale = dae_cpu_ptr (a->scaleshift)[(size_t) n * 2 * C + c];
    m.shift = dae_cpu_ptr (a->scaleshift)[(size_t) n * 2 * C + C + c];
  }
  if (a->zscale)
    m.z = dae_cpu_ptr (a->zscale)[(size_t) n * C + c];
  return m;
}

/* The per-(sample, channel) constants of the fused affine:
 *   u = (x - mean) * k + b, k = rstd * gamma (1+s)(1+z), b = (beta (1+s) + shift)(1+z);
 * a = gamma (1+s)(1+z) is the factor from xh to u (the backward needs it). */
typedef struct {
  float mean, rstd, k, b, a;
} GnPlane;

static GnPlane
gn_plane (const DaeTensor * stats, const DaeGroupNormArgs * a, int n, int c, int C)
{
  int g = n * a->groups + c / (C / a->groups);
  const float *st = dae_cpu_ptr (stats) + 2 * g;
  GnModulation m = gn_modulation (a, n, c, C);
  float gamma = dae_cpu_ptr (a->gamma)[c], beta = dae_cpu_ptr (a->beta)[c];
  GnPlane pl = { .mean = st[0], .rstd = st[1] };
  pl.a = gamma * (1.0f + m.scale) * (1.0f + m.z);
  pl.k = pl.rstd * pl.a;
  pl.b = (beta * (1.0f + m.scale) + m.shift) * (1.0f + m.z);
  return pl;
}

/* Mean and rstd of len contiguous values. Sums of (x - x[0]) in double: no cancellation
 * when the mean is large against the spread, and exact enough for any length here. */
static void
moments (const float *x, size_t len, double eps, float *mean, float *rstd)
{
  double k = x[0], s1 = 0, s2 = 0;
#pragma omp simd reduction(+:s1,s2)
  for (size_t i = 0; i < len; i++) {
    double d = (double) x[i] - k;
    s1 += d;
    s2 += d * d;
  }
  double m = s1 / len, var = fmax (s2 / len - m * m, 0.0);
  *mean = (float) (k + m);
  *rstd = (float) (1.0 / sqrt (var + eps));
}

/* The arguments of the norms' loops, as the pool's range functions take them. */
typedef struct {
  const DaeTensor *y, *stats, *x, *dy, *dx;
  const DaeGroupNormArgs *gn;
  const DaeGroupNormGrads *gn_grads;
  const DaeLayerNormArgs *ln;
  const DaeLayerNormGrads *ln_grads;
  Activation act;
  double *sums;
  float *work;
} NormLoop;

/* Groups ng0..ng1 (sample, group): statistics, then the apply of the group's planes while
 * they are still in cache. */
static void
groupnorm_forward_groups (const void *ctx, size_t ng0, size_t ng1, int thread)
{
  const NormLoop *l = ctx;
  const DaeGroupNormArgs *a = l->gn;
  const int C = l->x->c, cpg = C / a->groups;
  const size_t hw = (size_t) l->x->h * l->x->w, len = (size_t) cpg * hw;
  const float *xp = dae_cpu_ptr (l->x);
  float *yp = dae_cpu_ptr (l->y), *sp = dae_cpu_ptr (l->stats);
  (void) thread;
  for (size_t g = ng0; g < ng1; g++) {
    moments (xp + g * len, len, a->eps, &sp[2 * g], &sp[2 * g + 1]);
    for (size_t nc = g * cpg; nc < (g + 1) * cpg; nc++) {
      GnPlane pl = gn_plane (l->stats, a, (int) (nc / C), (int) (nc % C), C);
      for (size_t i0 = 0; i0 < hw; i0 += BLOCK) {
        size_t n = hw - i0 < BLOCK ? hw - i0 : BLOCK, base = nc * hw + i0;
        float *yr = yp + base;
        const float *xr = xp + base;
#pragma omp simd
        for (size_t i = 0; i < n; i++)
          yr[i] = (xr[i] - pl.mean) * pl.k + pl.b;
        activate_row (yr, yr, n, (uint32_t) base, &l->act);
      }
    }
  }
}

static void
cpu_groupnorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeGroupNormArgs * a)
{
  (void) s;
  NormLoop l = {.y = y,.stats = stats,.x = x,.gn = a,
    .act = activation (a->silu, a->dropout, a->seed) };
  size_t groups = (size_t) x->n * a->groups;
  dae_cpu_parallel_for (groups, 4.0 * dae_tensor_numel (x) / groups,
      groupnorm_forward_groups, &l);
}

/* S1 = sum du, S2 = sum du * xh over one (n, c) plane, du the gradient at the SiLU's input. */
static void
gn_plane_sums (const float *x, const float *dy, size_t hw, uint32_t index, const GnPlane * pl,
    const Activation * act, double *s1_out, double *s2_out)
{
  const float mean = pl->mean, rstd = pl->rstd, k = pl->k, b = pl->b;
  float u[BLOCK], du[BLOCK];
  double s1 = 0, s2 = 0;
  for (size_t i0 = 0; i0 < hw; i0 += BLOCK) {
    size_t n = hw - i0 < BLOCK ? hw - i0 : BLOCK;
    for (size_t i = 0; i < n; i++) {
      u[i] = (x[i0 + i] - mean) * k + b;
      du[i] = dy[i0 + i];
    }
    activation_grad_row (du, u, n, index + (uint32_t) i0, act);
    /* float sums within a block (vector lanes), double across blocks */
    float b1 = 0, b2 = 0;
#pragma omp simd reduction(+:b1,b2)
    for (size_t i = 0; i < n; i++) {
      b1 += du[i];
      b2 += du[i] * ((x[i0 + i] - mean) * rstd);
    }
    s1 += b1;
    s2 += b2;
  }
  *s1_out = s1;
  *s2_out = s2;
}

/* dx += rstd (du a - m1 - xh m2) over one (n, c) plane. */
static void
gn_plane_dx (float *restrict dx, const float *x, const float *dy, size_t hw, uint32_t index,
    const GnPlane * pl, const Activation * act, float m1, float m2)
{
  /* local copies: the compiler cannot know that dx does not alias *pl */
  const float mean = pl->mean, rstd = pl->rstd, k = pl->k, b = pl->b, a = pl->a;
  float u[BLOCK], du[BLOCK];
  for (size_t i0 = 0; i0 < hw; i0 += BLOCK) {
    size_t n = hw - i0 < BLOCK ? hw - i0 : BLOCK;
    for (size_t i = 0; i < n; i++) {
      u[i] = (x[i0 + i] - mean) * k + b;
      du[i] = dy[i0 + i];
    }
    activation_grad_row (du, u, n, index + (uint32_t) i0, act);
    for (size_t i = 0; i < n; i++) {
      float xh = (x[i0 + i] - mean) * rstd;
      dx[i0 + i] += rstd * (du[i] * a - m1 - xh * m2);
    }
  }
}

/* The parameter gradients of one (n, c) from its sums (see the top of the file):
 *   dzscale += (1+s)(gamma S2 + beta S1) + shift S1
 *   dscale += (1+z)(gamma S2 + beta S1), dshift += (1+z) S1. */
static void
gn_modulation_grads (const DaeGroupNormGrads * g, const DaeGroupNormArgs * a, int n, int c,
    int C, double s1, double s2)
{
  double gamma = dae_cpu_ptr (a->gamma)[c], beta = dae_cpu_ptr (a->beta)[c];
  GnModulation m = gn_modulation (a, n, c, C);
  double h0 = gamma * s2 + beta * s1;       /* sum du * (xh gamma + beta) */
  if (g->dzscale)
    dae_cpu_ptr (g->dzscale)[(size_t) n * C + c] +=
        (float) ((1.0 + m.scale) * h0 + m.shift * s1);
  if (g->dscaleshift) {
    dae_cpu_ptr (g->dscaleshift)[(size_t) n * 2 * C + c] += (float) ((1.0 + m.z) * h0);
    dae_cpu_ptr (g->dscaleshift)[(size_t) n * 2 * C + C + c] += (float) ((1.0 + m.z) * s1);
  }
}

/* The input gradient of group ng (sample n, group g) from its planes' sums. */
static void
gn_group_dx (float *dx, const float *x, const float *dy, const double *sums, int ng,
    const DaeTensor * stats, const DaeGroupNormArgs * a, int C, size_t hw,
    const Activation * act)
{
  const int G = a->groups, cpg = C / G, n = ng / G, c0 = (ng % G) * cpg;
  double m1 = 0, m2 = 0;          /* the group means of dxh = du a and of dxh xh */
  for (int c = c0; c < c0 + cpg; c++) {
    double av = gn_plane (stats, a, n, c, C).a;
    m1 += av * sums[2 * (n * C + c)];
    m2 += av * sums[2 * (n * C + c) + 1];
  }
  m1 /= (double) cpg * hw;
  m2 /= (double) cpg * hw;
  for (int c = c0; c < c0 + cpg; c++) {
    size_t off = ((size_t) n * C + c) * hw;
    GnPlane pl = gn_plane (stats, a, n, c, C);
    gn_plane_dx (dx + off, x + off, dy + off, hw, (uint32_t) off, &pl, act, (float) m1,
        (float) m2);
  }
}

/* Threaded over (sample, group): the planes of a group are reduced, then (while they are
 * still in cache) their input gradient computed. The parameter gradients follow from the
 * per-plane sums, samples summed in order. */
static void
groupnorm_backward_groups (const void *ctx, size_t ng0, size_t ng1, int thread)
{
  const NormLoop *l = ctx;
  const DaeGroupNormArgs *a = l->gn;
  const DaeTensor *x = l->x, *dx = l->dx, *stats = l->stats;
  const int C = x->c, G = a->groups, cpg = C / G;
  const size_t hw = (size_t) x->h * x->w;
  const float *xp = dae_cpu_ptr (x), *dyp = dae_cpu_ptr (l->dy);
  const Activation act = l->act;
  double *sums = l->sums;
  (void) thread;
  for (int ng = (int) ng0; ng < (int) ng1; ng++) {
    for (int c = (ng % G) * cpg; c < (ng % G + 1) * cpg; c++) {
      int nc = (ng / G) * C + c;
      GnPlane pl = gn_plane (stats, a, nc / C, c, C);
      gn_plane_sums (xp + nc * hw, dyp + nc * hw, hw, (uint32_t) (nc * hw), &pl, &act,
          &sums[2 * nc], &sums[2 * nc + 1]);
    }
    if (dx)
      gn_group_dx (dae_cpu_ptr (dx), xp, dyp, sums, ng, stats, a, C, hw, &act);
  }
}

static void
cpu_groupnorm_backward (DaeStream * s, const DaeTensor * dx, const DaeGroupNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeGroupNormArgs * a)
{
  const int N = x->n, C = x->c;
  /* sums[2 nc] = S1, sums[2 nc + 1] = S2 of plane nc */
  double *sums = (double *) dae_cpu_scratch (s, 0, 4 * (size_t) N * C);
  if (!sums)
    return;
  NormLoop l = {.stats = stats,.x = x,.dy = dy,.dx = dx,.gn = a,
    .act = activation (a->silu, a->dropout, a->seed),.sums = sums };
  size_t groups = (size_t) N * a->groups;
  dae_cpu_parallel_for (groups, 6.0 * dae_tensor_numel (x) / groups,
      groupnorm_backward_groups, &l);

  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      gn_modulation_grads (g, a, n, c, C, sums[2 * (n * C + c)], sums[2 * (n * C + c) + 1]);
  for (int c = 0; (g->dgamma || g->dbeta) && c < C; c++) {
    double dgamma = 0, dbeta = 0;
    for (int n = 0; n < N; n++) {
      GnModulation m = gn_modulation (a, n, c, C);
      double f = (1.0 + m.scale) * (1.0 + m.z);   /* dh0 = du (1+s)(1+z) */
      dgamma += f * sums[2 * (n * C + c) + 1];
      dbeta += f * sums[2 * (n * C + c)];
    }
    if (g->dgamma)
      dae_cpu_ptr (g->dgamma)[c] += (float) dgamma;
    if (g->dbeta)
      dae_cpu_ptr (g->dbeta)[c] += (float) dbeta;
  }
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

/* h = x * (1 + prescale) of one sample. */
static inline void
ln_input (float *h, const float *x, const float *ps, int C)
{
  if (ps) {
#pragma omp simd
    for (int c = 0; c < C; c++)
      h[c] = x[c] * (1.0f + ps[c]);
  } else {
    memcpy (h, x, C * sizeof *h);
  }
}

static void
layernorm_forward_samples (const void *ctx, size_t n0, size_t n1, int thread)
{
  const NormLoop *l = ctx;
  const DaeLayerNormArgs *a = l->ln;
  const int C = l->x->c;
  const float *xp = dae_cpu_ptr (l->x), *psp = dae_cpu_ptr (a->prescale);
  const float *gamma = dae_cpu_ptr (a->gamma), *beta = dae_cpu_ptr (a->beta);
  float *yp = dae_cpu_ptr (l->y), *sp = dae_cpu_ptr (l->stats);
  const Activation act = l->act;
  (void) thread;
  for (int n = (int) n0; n < (int) n1; n++) {
    float *yr = yp + (size_t) n * C;
    ln_input (yr, xp + (size_t) n * C, psp ? psp + (size_t) n * C : NULL, C);
    moments (yr, C, a->eps, &sp[2 * n], &sp[2 * n + 1]);
    float mean = sp[2 * n], rstd = sp[2 * n + 1];
#pragma omp simd
    for (int c = 0; c < C; c++)
      yr[c] = (yr[c] - mean) * rstd * gamma[c] + beta[c];
    activate_row (yr, yr, C, (uint32_t) ((size_t) n * C), &act);
  }
}

static void
cpu_layernorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeLayerNormArgs * a)
{
  (void) s;
  NormLoop l = {.y = y,.stats = stats,.x = x,.ln = a,
    .act = activation (a->silu, a->dropout, a->seed) };
  dae_cpu_parallel_for ((size_t) x->n, 4.0 * x->c, layernorm_forward_samples, &l);
}

/* dgamma/dbeta of channel blocks blk0..blk1 (64 channels each), samples summed in order. */
static void
ln_param_grads_blocks (const void *ctx, size_t blk0, size_t blk1, int thread)
{
  const NormLoop *l = ctx;
  const DaeLayerNormArgs *a = l->ln;
  const DaeLayerNormGrads *g = l->ln_grads;
  const int N = l->x->n, C = l->x->c;
  const float *xp = dae_cpu_ptr (l->x), *dyp = dae_cpu_ptr (l->dy), *sp = dae_cpu_ptr (l->stats);
  const float *psp = dae_cpu_ptr (a->prescale);
  const float *gamma = dae_cpu_ptr (a->gamma), *beta = dae_cpu_ptr (a->beta);
  const Activation act = l->act;
  (void) thread;
  for (int blk = (int) blk0; blk < (int) blk1; blk++) {
    int c0 = blk * 64, cn = C - c0 < 64 ? C - c0 : 64;
    float h[64], u[64], du[64];
    double dgamma[64] = { 0 }, dbeta[64] = { 0 };
    for (int n = 0; n < N; n++) {
      size_t off = (size_t) n * C + c0;
      ln_input (h, xp + off, psp ? psp + off : NULL, cn);
      float mean = sp[2 * n], rstd = sp[2 * n + 1];
      for (int c = 0; c < cn; c++) {
        h[c] = (h[c] - mean) * rstd;
        u[c] = h[c] * gamma[c0 + c] + beta[c0 + c];
        du[c] = dyp[off + c];
      }
      activation_grad_row (du, u, cn, (uint32_t) off, &act);
      for (int c = 0; c < cn; c++) {
        dgamma[c] += (double) du[c] * h[c];
        dbeta[c] += du[c];
      }
    }
    for (int c = 0; c < cn; c++) {
      if (g->dgamma)
        dae_cpu_ptr (g->dgamma)[c0 + c] += (float) dgamma[c];
      if (g->dbeta)
        dae_cpu_ptr (g->dbeta)[c0 + c] += (float) dbeta[c];
    }
  }
}

/* dgamma/dbeta, threaded over blocks of channels. */
static void
ln_param_grads (const DaeLayerNormGrads * g, const DaeTensor * dy, const DaeTensor * x,
    const DaeTensor * stats, const DaeLayerNormArgs * a)
{
  NormLoop l = {.stats = stats,.x = x,.dy = dy,.ln = a,.ln_grads = g,
    .act = activation (a->silu, a->dropout, a->seed) };
  dae_cpu_parallel_for ((size_t) (x->c + 63) / 64, 6.0 * 64 * x->n, ln_param_grads_blocks, &l);
}

static void
layernorm_backward_samples (const void *ctx, size_t n0, size_t n1, int thread)
{
  const NormLoop *l = ctx;
  const DaeLayerNormArgs *a = l->ln;
  const DaeLayerNormGrads *g = l->ln_grads;
  const int C = l->x->c;
  const float *xp = dae_cpu_ptr (l->x), *dyp = dae_cpu_ptr (l->dy), *sp = dae_cpu_ptr (l->stats);
  const float *psp = dae_cpu_ptr (a->prescale), *gamma = dae_cpu_ptr (a->gamma);
  const float *beta = dae_cpu_ptr (a->beta);
  const Activation act = l->act;
  float *dprescale = g ? dae_cpu_ptr (g->dprescale) : NULL, *dxp = dae_cpu_ptr (l->dx);
  float *work = l->work;
  (void) thread;
  for (int n = (int) n0; n < (int) n1; n++) {
    size_t off = (size_t) n * C;
    float *hh = work + 2 * off, *dhh = hh + C;
    float mean = sp[2 * n], rstd = sp[2 * n + 1];
    ln_input (hh, xp + off, psp ? psp + off : NULL, C);
    for (int c = 0; c < C; c++) {
      hh[c] = (hh[c] - mean) * rstd;
      dhh[c] = dyp[off + c];
    }
    /* dhh = du first (dy through dropout and SiLU, u recomputed a block at a time) */
    for (int c0 = 0; c0 < C; c0 += BLOCK) {
      int cn = C - c0 < BLOCK ? C - c0 : BLOCK;
      float u[BLOCK];
      for (int c = 0; c < cn; c++)
        u[c] = hh[c0 + c] * gamma[c0 + c] + beta[c0 + c];
      activation_grad_row (dhh + c0, u, cn, (uint32_t) (off + c0), &act);
    }
    double s1 = 0, s2 = 0;
    for (int c = 0; c < C; c++) {
      dhh[c] *= gamma[c];
      s1 += dhh[c];
      s2 += (double) dhh[c] * hh[c];
    }
    float m1 = (float) (s1 / C), m2 = (float) (s2 / C);
    for (int c = 0; c < C; c++) {
      float dh = rstd * (dhh[c] - m1 - hh[c] * m2);
      if (dxp)
        dxp[off + c] += dh * (1.0f + (psp ? psp[off + c] : 0.0f));
      if (dprescale)
        dprescale[off + c] += dh * xp[off + c];
    }
  }
}

static void
cpu_layernorm_backward (DaeStream * s, const DaeTensor * dx, const DaeLayerNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeLayerNormArgs * a)
{
  const int N = x->n, C = x->c;
  if (g && (g->dgamma || g->dbeta))
    ln_param_grads (g, dy, x, stats, a);
  float *dprescale = g ? dae_cpu_ptr (g->dprescale) : NULL;
  if (!dx && !dprescale)
    return;
  /* per sample: hh (normalised) and dhh = du gamma, two rows of scratch */
  float *work = dae_cpu_scratch (s, 0, (size_t) 2 * N * C);
  if (!work)
    return;
  NormLoop l = {.stats = stats,.x = x,.dy = dy,.dx = dx,.ln = a,.ln_grads = g,
    .act = activation (a->silu, a->dropout, a->seed),.work = work };
  dae_cpu_parallel_for ((size_t) N, 8.0 * C, layernorm_backward_samples, &l);
}

void
dae_cpu_register_norm (DaeOpsTable * t)
{
  t->groupnorm_forward = cpu_groupnorm_forward;
  t->groupnorm_backward = cpu_groupnorm_backward;
  t->layernorm_forward = cpu_layernorm_forward;
  t->layernorm_backward = cpu_layernorm_backward;
}
