/* CPU: losses, gradient norms, Adam and EMA (see compute/ops/dae_ops.h).
 *
 * Reductions are deterministic: the elements are cut into fixed chunks (independent of the
 * number of threads), each chunk is summed in double by one thread, and the chunk sums are
 * added in order by one final pass. */
#include "cpu_backend.h"

#include <math.h>

#define CHUNK 8192

typedef enum {
  REDUCE_SQ,                    /* x^2 */
  REDUCE_SQDIFF,                /* (a - b)^2, and the MSE gradient */
  REDUCE_ABSDIFF,               /* |a - b|, and the L1 gradient */
} ReduceKind;

/* Sum over [lo, hi) of one chunk; also adds coef * d(term)/d(a) into grad when non-NULL
 * (coef already holds 1/n and the grad scale). Eight accumulators keep the adds independent. */
static double
chunk_sum (ReduceKind kind, const float *a, const float *b, float *grad, float coef,
    size_t lo, size_t hi)
{
  double acc[8] = { 0 };
  for (size_t i = lo; i < hi; i++) {
    float d = b ? a[i] - b[i] : a[i];
    double term;
    switch (kind) {
      case REDUCE_SQ:
      case REDUCE_SQDIFF:
        term = (double) d * d;
        if (grad)
          grad[i] += coef * 2.0f * d;
        break;
      default:
        term = fabs ((double) d);
        if (grad)
          grad[i] += coef * (float) ((d > 0.0f) - (d < 0.0f));
        break;
    }
    acc[i & 7] += term;
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

typedef struct {
  ReduceKind kind;
  const float *a, *b;
  float *grad, coef;
  size_t n;
  double *partial;
} Reduce;

static void
reduce_chunks (const void *ctx, size_t c0, size_t c1, int thread)
{
  const Reduce *r = ctx;
  (void) thread;
  for (size_t c = c0; c < c1; c++) {
    size_t lo = c * CHUNK, hi = lo + CHUNK < r->n ? lo + CHUNK : r->n;
    r->partial[c] = chunk_sum (r->kind, r->a, r->b, r->grad, r->coef, lo, hi);
  }
}

/* Deterministic sum of the terms over n elements (two passes); NAN when out of scratch. */
static double
reduce (DaeStream * s, ReduceKind kind, const float *a, const float *b, float *grad,
    float coef, size_t n)
{
  size_t chunks = (n + CHUNK - 1) / CHUNK;
  double *partial = (double *) dae_cpu_scratch (s, 3, 2 * (chunks ? chunks : 1));
  if (!partial)
    return NAN;
  Reduce r = { kind, a, b, grad, coef, n, partial };
  dae_cpu_parallel_for (chunks, CHUNK, reduce_chunks, &r);
  double total = 0;
  for (size_t c = 0; c < chunks; c++)
    total += partial[c];
  return total;
}

static void
loss (DaeStream * s, ReduceKind kind, const DaeTensor * out, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale)
{
  size_t n = dae_tensor_numel (pred);
  float coef = (float) ((double) grad_scale / (double) n);
  double sum = reduce (s, kind, dae_cpu_ptr (pred), dae_cpu_ptr (target), dae_cpu_ptr (dpred),
      coef, n);
  dae_cpu_ptr (out)[0] = (float) (sum / (double) n);
}

static void
cpu_mse_loss (DaeStream * s, const DaeTensor * out, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale)
{
  loss (s, REDUCE_SQDIFF, out, dpred, pred, target, grad_scale);
}

static void
cpu_l1_loss (DaeStream * s, const DaeTensor * out, const DaeTensor * dpred,
    const DaeTensor * pred, const DaeTensor * target, float grad_scale)
{
  loss (s, REDUCE_ABSDIFF, out, dpred, pred, target, grad_scale);
}

static void
cpu_sumsq (DaeStream * s, const DaeTensor * out, const DaeTensor * x)
{
  double sum = reduce (s, REDUCE_SQ, dae_cpu_ptr (x), NULL, NULL, 0.0f, dae_tensor_numel (x));
  dae_cpu_ptr (out)[0] = (float) sum;
}

static void
cpu_clip_factor (DaeStream * s, const DaeTensor * factor, const DaeTensor * sumsq,
    float max_norm)
{
  (void) s;
  const float *slots = dae_cpu_ptr (sumsq);
  double total = 0;
  for (size_t i = 0; i < dae_tensor_numel (sumsq); i++)
    total += slots[i];
  float norm = (float) sqrt (total);
  dae_cpu_ptr (factor)[0] = fminf (1.0f, max_norm / (norm + 1e-6f));
}

typedef struct {
  DaeAdamScalars k;
  float scale, decay;
  bool decoupled;
  float *p, *m, *v;
  const float *g;
} Update;

static void
adam_range (const void *ctx, size_t i0, size_t i1, int thread)
{
  const Update *u = ctx;
  const DaeAdamScalars k = u->k;
  const float scale = u->scale;
  const bool decoupled = u->decoupled;
  float *pp = u->p, *mp = u->m, *vp = u->v;
  const float *gp = u->g;
  (void) thread;
  for (size_t i = i0; i < i1; i++) {
    /* Same order of operations as torch.optim.Adam/AdamW (_single_tensor_adam[w]). */
    float g = gp[i] * scale, p = pp[i];
    if (decoupled)
      p *= k.decay;
    else if (k.wd != 0.0f)
      g = g + k.wd * p;
    float mi = mp[i] * k.beta1 + k.one_m_beta1 * g;
    float vi = vp[i] * k.beta2 + k.one_m_beta2 * g * g;
    float denom = sqrtf (vi) / k.bc2_sqrt + k.eps;
    mp[i] = mi;
    vp[i] = vi;
    pp[i] = p + (-k.step_size * mi) / denom;
  }
}

static void
cpu_adam_update (DaeStream * s, const DaeTensor * param, const DaeTensor * grad,
    const DaeTensor * m, const DaeTensor * v, const DaeAdamArgs * a)
{
  (void) s;
  Update u = {.k = dae_adam_scalars (a),
    .scale = a->grad_scale ? dae_cpu_ptr (a->grad_scale)[0] : 1.0f,
    .decoupled = a->decoupled,.p = dae_cpu_ptr (param),.m = dae_cpu_ptr (m),
    .v = dae_cpu_ptr (v),.g = dae_cpu_ptr (grad)
  };
  dae_cpu_parallel_for (dae_tensor_numel (param), 1.0, adam_range, &u);
}

static void
ema_range (const void *ctx, size_t i0, size_t i1, int thread)
{
  const Update *u = ctx;
  const float keep = u->decay, take = u->scale;
  float *ep = u->m;
  const float *pp = u->g;
  (void) thread;
  for (size_t i = i0; i < i1; i++)
    ep[i] = ep[i] * keep + pp[i] * take;
}

static void
cpu_ema_update (DaeStream * s, const DaeTensor * ema, const DaeTensor * param, float decay)
{
  (void) s;
  Update u = {.decay = decay,.scale = (float) (1.0 - (double) decay),.m = dae_cpu_ptr (ema),
    .g = dae_cpu_ptr (param) };
  dae_cpu_parallel_for (dae_tensor_numel (ema), 1.0, ema_range, &u);
}

void
dae_cpu_register_train (DaeOpsTable * t)
{
  t->mse_loss = cpu_mse_loss;
  t->l1_loss = cpu_l1_loss;
  t->sumsq = cpu_sumsq;
  t->clip_factor = cpu_clip_factor;
  t->adam_update = cpu_adam_update;
  t->ema_update = cpu_ema_update;
}
