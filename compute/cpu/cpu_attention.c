/* CPU: single-head attention (see compute/ops/dae_ops.h). OpenBLAS sgemm for the products
 * of each sample (three forward, four backward); plain loops for the q/k scaling and the
 * softmax rows.
 * T = H*W, a = C^-1/4:
 *
 *   forward   S = (a q)^T (a k) (q and k scaled first, as PyTorch does)
 *             P = softmax rows of S (stored in probs), y = v P^T
 *   backward  dP = dy^T v, dv += dy P, dS = P * (dP - rowsum(dP * P)),
 *             dq += a^2 k dS^T, dk += a^2 q dS
 *
 * A batch runs one sample per OpenMP thread at a time (each sample's products and softmax on
 * one thread, its probabilities still in cache); one sample alone cuts each step across the
 * threads instead. */
#include "cpu_backend.h"

#include <cblas.h>
#include <math.h>

typedef struct {
  float *d;
  const float *P;
  int T;
} Rows;

/* Rows t0..t1 in place: P = exp(S - max) / sum, in float like torch.softmax on fp32. */
static void
softmax_range (const void *ctx, size_t t0, size_t t1, int thread)
{
  const Rows *r = ctx;
  const int T = r->T;
  float *P = r->d;
  (void) thread;
  for (size_t t = t0; t < t1; t++) {
    float *row = P + t * T, max = -INFINITY, sum = 0.0f;
    for (int s = 0; s < T; s++)
      max = fmaxf (max, row[s]);
    for (int s = 0; s < T; s++)
      sum += (row[s] = expf (row[s] - max));
    float inv = 1.0f / sum;
    for (int s = 0; s < T; s++)
      row[s] *= inv;
  }
}

static void
softmax_rows (float *P, size_t rows, int T)
{
  Rows r = { P, NULL, T };
  dae_cpu_parallel_for (rows, 4.0 * T, softmax_range, &r);
}

/* dP becomes dS = P * (dP - rowsum(dP * P)) in place, rows t0..t1. */
static void
softmax_backward_range (const void *ctx, size_t t0, size_t t1, int thread)
{
  const Rows *r = ctx;
  const int T = r->T;
  float *dP = r->d;
  const float *P = r->P;
  (void) thread;
  for (size_t t = t0; t < t1; t++) {
    float *d = dP + t * T;
    const float *p = P + t * T;
    float dot = 0.0f;
    for (int s = 0; s < T; s++)
      dot += d[s] * p[s];
    for (int s = 0; s < T; s++)
      d[s] = p[s] * (d[s] - dot);
  }
}

static void
softmax_backward_rows (float *dP, const float *P, size_t rows, int T)
{
  Rows r = { dP, P, T };
  dae_cpu_parallel_for (rows, 2.0 * T, softmax_backward_range, &r);
}

/* Samples run in parallel, one per thread at a time, each with its products and softmax on
 * that thread; a single sample runs alone with its products and loops cut across the threads. */
typedef struct {
  const float *x, *P, *g;
  float *scratch, *y, *dx;
  int C, T;
  float a;
} Attention;

/* Forward of sample n; qk: 2 C T floats of this sample's scratch. */
static void
forward_sample (float *qk, const float *x, float *P, float *y, int C, int T, float a)
{
  const size_t CT = (size_t) C * T;
  for (size_t i = 0; i < 2 * CT; i++)
    qk[i] = x[i] * a;
  dae_cpu_sgemm (CblasTrans, CblasNoTrans, T, T, C, 1.0f, qk, T, qk + CT, T, 0.0f, P, T);
  softmax_rows (P, (size_t) T, T);
  dae_cpu_sgemm (CblasNoTrans, CblasTrans, C, T, T, 1.0f, x + 2 * CT, T, P, T, 0.0f, y, T);
}

static void
forward_samples (const void *ctx, size_t n0, size_t n1, int thread)
{
  const Attention *at = ctx;
  const size_t CT = (size_t) at->C * at->T, TT = (size_t) at->T * at->T;
  (void) thread;
  for (size_t n = n0; n < n1; n++)
    forward_sample (at->scratch + n * 2 * CT, at->x + n * 3 * CT, (float *) at->P + n * TT,
        at->y + n * CT, at->C, at->T, at->a);
}

static void
cpu_attention_forward (DaeStream * st, const DaeTensor * y, const DaeTensor * probs,
    const DaeTensor * qkv)
{
  const int N = y->n, C = y->c, T = y->h * y->w;
  const size_t CT = (size_t) C * T, TT = (size_t) T * T;
  const float a = (float) (1.0 / sqrt (sqrt ((double) C)));
  float *qk = dae_cpu_scratch (st, 0, 2 * CT * N);  /* per sample: a q, then a k */
  const float *x = dae_cpu_ptr (qkv);
  float *P = dae_cpu_ptr (probs), *yp = dae_cpu_ptr (y);
  if (!qk)
    return;
  Attention at = {.x = x,.P = P,.scratch = qk,.y = yp,.C = C,.T = T,.a = a };
  (void) TT;
  dae_cpu_parallel_for ((size_t) N, 1e9, forward_samples, &at);
}

/* Backward of sample n; dS: T T floats of this sample's scratch. */
static void
backward_sample (float *dS, const float *x, const float *P, const float *g, float *dx, int C,
    int T, float a2)
{
  const size_t CT = (size_t) C * T;
  const float *q = x, *k = x + CT, *v = x + 2 * CT;
  float *dq = dx, *dk = dx + CT, *dv = dx + 2 * CT;
  /* dP = dy^T v; dv += dy P */
  dae_cpu_sgemm (CblasTrans, CblasNoTrans, T, T, C, 1.0f, g, T, v, T, 0.0f, dS, T);
  dae_cpu_sgemm (CblasNoTrans, CblasNoTrans, C, T, T, 1.0f, g, T, P, T, 1.0f, dv, T);
  softmax_backward_rows (dS, P, (size_t) T, T);
  /* dq += a^2 k dS^T; dk += a^2 q dS */
  dae_cpu_sgemm (CblasNoTrans, CblasTrans, C, T, T, a2, k, T, dS, T, 1.0f, dq, T);
  dae_cpu_sgemm (CblasNoTrans, CblasNoTrans, C, T, T, a2, q, T, dS, T, 1.0f, dk, T);
}

static void
backward_samples (const void *ctx, size_t n0, size_t n1, int thread)
{
  const Attention *at = ctx;
  const size_t CT = (size_t) at->C * at->T, TT = (size_t) at->T * at->T;
  (void) thread;
  for (size_t n = n0; n < n1; n++)
    backward_sample (at->scratch + n * TT, at->x + n * 3 * CT, at->P + n * TT, at->g + n * CT,
        at->dx + n * 3 * CT, at->C, at->T, at->a);
}

static void
cpu_attention_backward (DaeStream * st, const DaeTensor * dqkv, const DaeTensor * dy,
    const DaeTensor * qkv, const DaeTensor * probs)
{
  const int N = dy->n, C = dy->c, T = dy->h * dy->w;
  const size_t CT = (size_t) C * T, TT = (size_t) T * T;
  const float a2 = (float) (1.0 / sqrt ((double) C));
  float *dS = dae_cpu_scratch (st, 0, TT * N);
  if (!dS)
    return;
  const float *x = dae_cpu_ptr (qkv), *P = dae_cpu_ptr (probs), *g = dae_cpu_ptr (dy);
  float *dx = dae_cpu_ptr (dqkv);
  Attention at = {.x = x,.P = P,.g = g,.scratch = dS,.dx = dx,.C = C,.T = T,.a = a2 };
  (void) CT;
  dae_cpu_parallel_for ((size_t) N, 1e9, backward_samples, &at);
}

void
dae_cpu_register_attention (DaeOpsTable * t)
{
  t->attention_forward = cpu_attention_forward;
  t->attention_backward = cpu_attention_backward;
}
