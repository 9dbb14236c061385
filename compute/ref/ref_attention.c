/* Attention, written out with the scores S[t,s] = sum_c (a q[c,t]) (a k[c,s]), a = C^-1/4:
 *   forward   P = softmax_s(S), y[c,t] = sum_s P[t,s] v[c,s]
 *   backward  dP[t,s] = sum_c dy[c,t] v[c,s]        dv[c,s] = sum_t dy[c,t] P[t,s]
 *             dS[t,s] = P[t,s] (dP[t,s] - sum_s' dP[t,s'] P[t,s'])   (softmax)
 *             dq[c,t] = a^2 sum_s dS[t,s] k[c,s]    dk[c,s] = a^2 sum_t dS[t,s] q[c,t] */
#include "ref_attention.h"

#include <math.h>
#include <stdlib.h>

void
ref_attention_forward (double *y, double *probs, const double *qkv, int N, int C, int T)
{
  double a = 1.0 / sqrt (sqrt ((double) C));
  for (int n = 0; n < N; n++) {
    const double *q = qkv + (size_t) n * 3 * C * T, *k = q + (size_t) C * T,
        *v = k + (size_t) C * T;
    double *P = probs + (size_t) n * T * T, *yn = y + (size_t) n * C * T;
    for (int t = 0; t < T; t++) {
      double *row = P + (size_t) t * T, max = -INFINITY, sum = 0;
      for (int s = 0; s < T; s++) {
        double dot = 0;
        for (int c = 0; c < C; c++)
          dot += (a * q[c * T + t]) * (a * k[c * T + s]);
        row[s] = dot;
        max = fmax (max, dot);
      }
      for (int s = 0; s < T; s++)
        sum += (row[s] = exp (row[s] - max));
      for (int s = 0; s < T; s++)
        row[s] /= sum;
    }
    for (int c = 0; c < C; c++)
      for (int t = 0; t < T; t++) {
        double acc = 0;
        for (int s = 0; s < T; s++)
          acc += P[(size_t) t * T + s] * v[c * T + s];
        yn[c * T + t] = acc;
      }
  }
}

void
ref_attention_backward (double *dqkv, const double *dy, const double *qkv,
    const double *probs, int N, int C, int T)
{
  double a2 = 1.0 / sqrt ((double) C);
  double *dS = malloc ((size_t) T * T * sizeof *dS);
  for (int n = 0; n < N; n++) {
    size_t CT = (size_t) C * T;
    const double *q = qkv + n * 3 * CT, *k = q + CT, *v = k + CT;
    const double *P = probs + (size_t) n * T * T, *dyn = dy + n * CT;
    double *dq = dqkv + n * 3 * CT, *dk = dq + CT, *dv = dk + CT;
    for (int t = 0; t < T; t++) {
      double *row = dS + (size_t) t * T, dot = 0;
      for (int s = 0; s < T; s++) {
        double acc = 0;
        for (int c = 0; c < C; c++)
          acc += dyn[c * T + t] * v[c * T + s];
        row[s] = acc;           /* dP */
        dot += acc * P[(size_t) t * T + s];
      }
      for (int s = 0; s < T; s++)
        row[s] = P[(size_t) t * T + s] * (row[s] - dot);
    }
    for (int c = 0; c < C; c++)
      for (int s = 0; s < T; s++) {
        double accv = 0, acck = 0, accq = 0;
        for (int t = 0; t < T; t++) {
          accv += dyn[c * T + t] * P[(size_t) t * T + s];
          acck += dS[(size_t) t * T + s] * q[c * T + t];
          accq += dS[(size_t) s * T + t] * k[c * T + t];   /* dq at position s */
        }
        dv[c * T + s] += accv;
        dk[c * T + s] += a2 * acck;
        dq[c * T + s] += a2 * accq;
      }
  }
  free (dS);
}
