/* CPU: elementwise ops, pooling, resampling, timestep embedding (see compute/ops/dae_ops.h). */
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

/* ---- pooling and resampling -------------------------------------------------------------- */

/* The four elements of the 2x2 block (i, j) of a (2h, 2w) plane. */
#define BLOCK2(a, i, j, w2) \
  (((a)[(2 * (i)) * (w2) + 2 * (j)] + (a)[(2 * (i)) * (w2) + 2 * (j) + 1]) + \
      ((a)[(2 * (i) + 1) * (w2) + 2 * (j)] + (a)[(2 * (i) + 1) * (w2) + 2 * (j) + 1]))

static void
cpu_avgpool2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  const size_t h = y->h, w = y->w, planes = (size_t) y->n * y->c;
  const float *xp = dae_cpu_ptr (x);
  float *yp = dae_cpu_ptr (y);
#pragma omp parallel for schedule(static) if (dae_tensor_numel (x) > PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const float *xq = xp + pl * 4 * h * w;
    float *yq = yp + pl * h * w;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++)
        yq[i * w + j] = 0.25f * BLOCK2 (xq, i, j, 2 * w);
  }
}

static void
cpu_avgpool2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  (void) s;
  const size_t h = dy->h, w = dy->w, planes = (size_t) dy->n * dy->c;
  const float *dyp = dae_cpu_ptr (dy);
  float *dxp = dae_cpu_ptr (dx);
#pragma omp parallel for schedule(static) if (dae_tensor_numel (dx) > PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const float *dyq = dyp + pl * h * w;
    float *dxq = dxp + pl * 4 * h * w;
    for (size_t i = 0; i < 2 * h; i++)
      for (size_t j = 0; j < 2 * w; j++)
        dxq[i * 2 * w + j] += 0.25f * dyq[(i / 2) * w + j / 2];
  }
}

static void
cpu_upsample2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  const size_t h = x->h, w = x->w, planes = (size_t) x->n * x->c;
  const float *xp = dae_cpu_ptr (x);
  float *yp = dae_cpu_ptr (y);
#pragma omp parallel for schedule(static) if (dae_tensor_numel (y) > PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const float *xq = xp + pl * h * w;
    float *yq = yp + pl * 4 * h * w;
    for (size_t i = 0; i < 2 * h; i++)
      for (size_t j = 0; j < 2 * w; j++)
        yq[i * 2 * w + j] = xq[(i / 2) * w + j / 2];
  }
}

static void
cpu_upsample2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  (void) s;
  const size_t h = dx->h, w = dx->w, planes = (size_t) dx->n * dx->c;
  const float *dyp = dae_cpu_ptr (dy);
  float *dxp = dae_cpu_ptr (dx);
#pragma omp parallel for schedule(static) if (dae_tensor_numel (dy) > PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    const float *dyq = dyp + pl * 4 * h * w;
    float *dxq = dxp + pl * h * w;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++)
        dxq[i * w + j] += BLOCK2 (dyq, i, j, 2 * w);
  }
}

static void
cpu_global_avgpool_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  const size_t hw = (size_t) x->h * x->w, planes = (size_t) x->n * x->c;
  const float *xp = dae_cpu_ptr (x);
  float *yp = dae_cpu_ptr (y);
#pragma omp parallel for schedule(static) if (dae_tensor_numel (x) > PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    double sum = 0;
#pragma omp simd reduction(+:sum)
    for (size_t i = 0; i < hw; i++)
      sum += xp[pl * hw + i];
    yp[pl] = (float) (sum / (double) hw);
  }
}

static void
cpu_global_avgpool_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  (void) s;
  const size_t hw = (size_t) dx->h * dx->w, planes = (size_t) dx->n * dx->c;
  const float *dyp = dae_cpu_ptr (dy);
  float *dxp = dae_cpu_ptr (dx);
#pragma omp parallel for schedule(static) if (dae_tensor_numel (dx) > PARALLEL_MIN)
  for (size_t pl = 0; pl < planes; pl++) {
    float g = dyp[pl] / (float) hw;
    for (size_t i = 0; i < hw; i++)
      dxp[pl * hw + i] += g;
  }
}

/* ---- timestep embedding --------------------------------------------------------------------- */

/* exp(d) computed as PyTorch's float32 exp on the CPU does it (the vectorised SLEEF expf_u10
 * algorithm: d = q ln2 + s with ln2 in two parts, then its degree-6 polynomial), so that the
 * frequencies are bit-identical to PyTorch's; libm's expf is correctly rounded and differs
 * from it by one ulp for about one frequency in six. */
static float
torch_expf (float d)
{
  float q = rintf (d * 1.442695040888963407359924681001892137f);
  float sr = fmaf (q, -0.693145751953125f, d);
  sr = fmaf (q, -1.428606765330187045e-06f, sr);
  float u = 0.000198527617612853646278381f;
  u = fmaf (u, sr, 0.00139304355252534151077271f);
  u = fmaf (u, sr, 0.00833336077630519866943359f);
  u = fmaf (u, sr, 0.0416664853692054748535156f);
  u = fmaf (u, sr, 0.166666671633720397949219f);
  u = fmaf (u, sr, 0.5f);
  u = 1.0f + fmaf (sr * sr, u, sr);
  return ldexpf (u, (int) q);
}

/* As the published models (PyTorch): freqs = exp(-ln(10000) * arange(half) / half) in float32,
 * arg = t.float() * freqs in float32, then cos and sin of that float argument (here in double,
 * so correctly rounded). For t up to 999 the float32 argument differs from the exact t f_i by
 * up to ~5e-5: matching it is what keeps the model's output close to PyTorch's. */
static void
cpu_timestep_embedding (DaeStream * s, const DaeTensor * y, const DaeTensor * t)
{
  (void) s;
  const int dim = y->c, half = dim / 2;
  const float *tp = dae_cpu_ptr (t);
  float *yp = dae_cpu_ptr (y);
  const float neg_log_period = (float) -log (10000.0);
  for (int n = 0; n < y->n; n++)
    for (int i = 0; i < half; i++) {
      float f = torch_expf (neg_log_period * (float) i / (float) half);
      float arg = tp[n] * f;
      yp[(size_t) n * dim + i] = (float) cos ((double) arg);
      yp[(size_t) n * dim + half + i] = (float) sin ((double) arg);
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
  t->avgpool2_forward = cpu_avgpool2_forward;
  t->avgpool2_backward = cpu_avgpool2_backward;
  t->upsample2_forward = cpu_upsample2_forward;
  t->upsample2_backward = cpu_upsample2_backward;
  t->global_avgpool_forward = cpu_global_avgpool_forward;
  t->global_avgpool_backward = cpu_global_avgpool_backward;
  t->timestep_embedding = cpu_timestep_embedding;
}
