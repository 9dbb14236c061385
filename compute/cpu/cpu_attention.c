/* CPU: single-head attention (see compute/ops/dae_ops.h). OpenBLAS sgemm for the three
 * products per sample each way; OpenMP loops for the q/k scaling and the softmax rows.
 * T = H*W, a = C^-1/4:
 *
 *   forward   S = (a q)^T (a k) (q and k scaled first, as PyTorch does)
 *             P = softmax rows of S (stored in probs), y = v P^T
 *   backward  dP = dy^T v, dv += dy P, dS = P * (dP - rowsum(dP * P)),
 *             dq += a^2 k dS^T, dk += a^2 q dS
 *
 * Each step runs for all samples before the next: OpenBLAS's threads and OpenMP's spin
 * for a while after their work, so alternating the two per sample costs far more than the
 * steps themselves on a machine with few cores. */
#include "cpu_backend.h"

#include <cblas.h>
#include <math.h>

#define PARALLEL_MIN 16384

/* Rows in place: P = exp(S - max) / sum, in float like torch.softmax on fp32. */
static void
softmax_rows (float *P, size_t rows, int T)
{
#pragma omp parallel for schedule(static) if (rows * T > PARALLEL_MIN)
  for (size_t t = 0; t < rows; t++) {
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

/* dP becomes dS = P * (dP - rowsum(dP * P)) in place. */
static void
softmax_backward_rows (float *dP, const float *P, size_t rows, int T)
{
#pragma omp parallel for schedule(static) if (rows * T > PARALLEL_MIN)
  for (size_t t = 0; t < rows; t++) {
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
#pragma omp parallel for schedule(static) if (2 * CT * N > PARALLEL_MIN)
  for (size_t i = 0; i < 2 * CT * N; i++)
    qk[i] = x[i / (2 * CT) * 3 * CT + i % (2 * CT)] * a;
  for (int n = 0; n < N; n++)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, T, C, 1.0f, qk + n * 2 * CT, T,
        qk + n * 2 * CT + CT, T, 0.0f, P + n * TT, T);
  softmax_rows (P, (size_t) N * T, T);
  for (int n = 0; n < N; n++)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, C, T, T, 1.0f, x + n * 3 * CT + 2 * CT,
        T, P + n * TT, T, 0.0f, yp + n * CT, T);
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
  for (int n = 0; n < N; n++) {
    const float *v = x + n * 3 * CT + 2 * CT, *gn = g + n * CT;
    /* dP = dy^T v; dv += dy P */
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, T, C, 1.0f, gn, T, v, T, 0.0f,
        dS + n * TT, T);
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, C, T, T, 1.0f, gn, T, P + n * TT, T,
        1.0f, dx + n * 3 * CT + 2 * CT, T);
  }
  softmax_backward_rows (dS, P, (size_t) N * T, T);
  for (int n = 0; n < N; n++) {
    const float *q = x + n * 3 * CT, *k = q + CT, *dSn = dS + n * TT;
    float *dq = dx + n * 3 * CT, *dk = dq + CT;
    /* dq += a^2 k dS^T; dk += a^2 q dS */
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, C, T, T, a2, k, T, dSn, T, 1.0f, dq,
        T);
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, C, T, T, a2, q, T, dSn, T, 1.0f,
        dk, T);
  }
}

void
dae_cpu_register_attention (DaeOpsTable * t)
{
  t->attention_forward = cpu_attention_forward;
  t->attention_backward = cpu_attention_backward;
}
