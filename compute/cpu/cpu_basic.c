/* CPU: elementwise ops, pooling, resampling, timestep embedding. */
#include "cpu_backend.h"

#include <math.h>

/* Pointer to sample n of a (possibly strided) tensor. */
static inline float *
sample_ptr (const DaeTensor * t, int n)
{
  return dae_cpu_ptr (t) + (size_t) n * t->nstride;
}

/* Element loops run threaded only when large enough to pay for waking the threads. */
#define PARALLEL_MIN 65536

static void
cpu_fill (DaeStream * s, const DaeTensor * y, float value)
{
  (void) s;
  size_t len = dae_tensor_sample_size (y);
  for (int n = 0; n < y->n; n++) {
    float *yp = sample_ptr (y, n);
#pragma omp parallel for schedule(static) if (len > PARALLEL_MIN)
    for (size_t i = 0; i < len; i++)
      yp[i] = value;
  }
}

static void
cpu_copy (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  size_t len = dae_tensor_sample_size (y);
  for (int n = 0; n < y->n; n++) {
    float *yp = sample_ptr (y, n);
    const float *xp = sample_ptr (x, n);
#pragma omp parallel for schedule(static) if (len > PARALLEL_MIN)
    for (size_t i = 0; i < len; i++)
      yp[i] = xp[i];
  }
}

static void
cpu_axpy (DaeStream * s, const DaeTensor * y, const DaeTensor * x, float alpha)
{
  (void) s;
  size_t len = dae_tensor_sample_size (y);
  for (int n = 0; n < y->n; n++) {
    float *yp = sample_ptr (y, n);
    const float *xp = sample_ptr (x, n);
#pragma omp parallel for schedule(static) if (len > PARALLEL_MIN)
    for (size_t i = 0; i < len; i++)
      yp[i] += alpha * xp[i];
  }
}

static void
cpu_silu_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  float *yp = dae_cpu_ptr (y);
  const float *xp = dae_cpu_ptr (x);
  size_t count = dae_tensor_numel (y);
#pragma omp parallel for schedule(static) if (count > PARALLEL_MIN)
  for (size_t i = 0; i < count; i++)
    yp[i] = xp[i] / (1.0f + expf (-xp[i]));
}

static void
cpu_silu_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy,
    const DaeTensor * x)
{
  (void) s;
  float *dxp = dae_cpu_ptr (dx);
  const float *dyp = dae_cpu_ptr (dy), *xp = dae_cpu_ptr (x);
  size_t count = dae_tensor_numel (dx);
#pragma omp parallel for schedule(static) if (count > PARALLEL_MIN)
  for (size_t i = 0; i < count; i++) {
    float sg = 1.0f / (1.0f + expf (-xp[i]));
    dxp[i] += dyp[i] * sg * (1.0f + xp[i] * (1.0f - sg));
  }
}

void
dae_cpu_register_basic (DaeOpsTable * t)
{
  t->fill = cpu_fill;
  t->copy = cpu_copy;
  t->axpy = cpu_axpy;
  t->silu_forward = cpu_silu_forward;
  t->silu_backward = cpu_silu_backward;
}
