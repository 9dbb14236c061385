/* CPU: elementwise ops, pooling, resampling, timestep embedding (see compute/ops/dae_ops.h). */
#include "cpu_backend.h"

#include <math.h>
#include <string.h>

/* Loops run on the pool (dae_cpu_parallel_for), threaded when large enough. fill, copy and
 * axpy cut (possibly strided) tensors into chunks of this many elements of one sample, so
 * that one parallel loop covers all samples. */
#define CHUNK 16384

/* The layout fill, copy and axpy walk: `samples` runs of `len` elements, run n starting at
 * n * ystride in y and n * xstride in x (one run when both are contiguous). */
typedef struct {
  size_t samples, len, ystride, xstride, chunks;
} Runs;

static Runs
runs (const DaeTensor * y, const DaeTensor * x)
{
  size_t len = dae_tensor_sample_size (y);
  Runs r = { (size_t) y->n, len, y->nstride, x ? x->nstride : len, 0 };
  if (r.ystride == len && r.xstride == len) {
    r.len = len * r.samples;
    r.samples = 1;
  }
  r.chunks = (r.len + CHUNK - 1) / CHUNK;
  return r;
}

/* Element range [*lo, *hi) of chunk j (samples x chunks in order) in run *n. */
static inline void
chunk_range (const Runs * r, size_t j, size_t * n, size_t * lo, size_t * hi)
{
  *n = j / r->chunks;
  *lo = j % r->chunks * CHUNK;
  *hi = *lo + CHUNK < r->len ? *lo + CHUNK : r->len;
}

/* The arguments of every loop below, as the pool's range functions take them. */
typedef struct {
  float *y;
  const float *x, *dy;
  Runs r;
  float value;
  size_t h, w;                  /* the smaller plane (pooling and resampling) */
} Loop;

static void
fill_range (const void *ctx, size_t j0, size_t j1, int thread)
{
  const Loop *l = ctx;
  (void) thread;
  for (size_t j = j0; j < j1; j++) {
    size_t n, lo, hi;
    chunk_range (&l->r, j, &n, &lo, &hi);
    float *d = l->y + n * l->r.ystride;
    for (size_t i = lo; i < hi; i++)
      d[i] = l->value;
  }
}

static void
cpu_fill (DaeStream * s, const DaeTensor * y, float value)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (y),.r = runs (y, NULL),.value = value };
  dae_cpu_parallel_for (l.r.samples * l.r.chunks, CHUNK, fill_range, &l);
}

static void
copy_range (const void *ctx, size_t j0, size_t j1, int thread)
{
  const Loop *l = ctx;
  (void) thread;
  for (size_t j = j0; j < j1; j++) {
    size_t n, lo, hi;
    chunk_range (&l->r, j, &n, &lo, &hi);
    memcpy (l->y + n * l->r.ystride + lo, l->x + n * l->r.xstride + lo,
        (hi - lo) * sizeof *l->y);
  }
}

static void
cpu_copy (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (y),.x = dae_cpu_ptr (x),.r = runs (y, x) };
  dae_cpu_parallel_for (l.r.samples * l.r.chunks, CHUNK, copy_range, &l);
}

static void
axpy_range (const void *ctx, size_t j0, size_t j1, int thread)
{
  const Loop *l = ctx;
  const float alpha = l->value;
  (void) thread;
  for (size_t j = j0; j < j1; j++) {
    size_t n, lo, hi;
    chunk_range (&l->r, j, &n, &lo, &hi);
    float *d = l->y + n * l->r.ystride;
    const float *a = l->x + n * l->r.xstride;
    for (size_t i = lo; i < hi; i++)
      d[i] += alpha * a[i];
  }
}

static void
cpu_axpy (DaeStream * s, const DaeTensor * y, const DaeTensor * x, float alpha)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (y),.x = dae_cpu_ptr (x),.r = runs (y, x),.value = alpha };
  dae_cpu_parallel_for (l.r.samples * l.r.chunks, CHUNK, axpy_range, &l);
}

static void
silu_range (const void *ctx, size_t i0, size_t i1, int thread)
{
  const Loop *l = ctx;
  (void) thread;
  for (size_t i = i0; i < i1; i++)
    l->y[i] = l->x[i] / (1.0f + expf (-l->x[i]));
}

static void
cpu_silu_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (y),.x = dae_cpu_ptr (x) };
  dae_cpu_parallel_for (dae_tensor_numel (y), 1.0, silu_range, &l);
}

static void
silu_backward_range (const void *ctx, size_t i0, size_t i1, int thread)
{
  const Loop *l = ctx;
  const float *xp = l->x, *dyp = l->dy;
  (void) thread;
  for (size_t i = i0; i < i1; i++) {
    float sg = 1.0f / (1.0f + expf (-xp[i]));
    l->y[i] += dyp[i] * sg * (1.0f + xp[i] * (1.0f - sg));
  }
}

static void
cpu_silu_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy,
    const DaeTensor * x)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (dx),.x = dae_cpu_ptr (x),.dy = dae_cpu_ptr (dy) };
  dae_cpu_parallel_for (dae_tensor_numel (dx), 1.0, silu_backward_range, &l);
}

/* ---- pooling and resampling -------------------------------------------------------------- */

/* The four elements of the 2x2 block (i, j) of a (2h, 2w) plane. */
#define BLOCK2(a, i, j, w2) \
  (((a)[(2 * (i)) * (w2) + 2 * (j)] + (a)[(2 * (i)) * (w2) + 2 * (j) + 1]) + \
      ((a)[(2 * (i) + 1) * (w2) + 2 * (j)] + (a)[(2 * (i) + 1) * (w2) + 2 * (j) + 1]))

/* Loops over planes pl0..pl1; (h, w) is the small side of the 2x resampling. */
static void
avgpool2_range (const void *ctx, size_t pl0, size_t pl1, int thread)
{
  const Loop *l = ctx;
  const size_t h = l->h, w = l->w;
  (void) thread;
  for (size_t pl = pl0; pl < pl1; pl++) {
    const float *xq = l->x + pl * 4 * h * w;
    float *yq = l->y + pl * h * w;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++)
        yq[i * w + j] = 0.25f * BLOCK2 (xq, i, j, 2 * w);
  }
}

static void
cpu_avgpool2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (y),.x = dae_cpu_ptr (x),.h = y->h,.w = y->w };
  dae_cpu_parallel_for ((size_t) y->n * y->c, 4.0 * l.h * l.w, avgpool2_range, &l);
}

static void
avgpool2_backward_range (const void *ctx, size_t pl0, size_t pl1, int thread)
{
  const Loop *l = ctx;
  const size_t h = l->h, w = l->w;
  (void) thread;
  for (size_t pl = pl0; pl < pl1; pl++) {
    const float *dyq = l->dy + pl * h * w;
    float *dxq = l->y + pl * 4 * h * w;
    for (size_t i = 0; i < 2 * h; i++)
      for (size_t j = 0; j < 2 * w; j++)
        dxq[i * 2 * w + j] += 0.25f * dyq[(i / 2) * w + j / 2];
  }
}

static void
cpu_avgpool2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (dx),.dy = dae_cpu_ptr (dy),.h = dy->h,.w = dy->w };
  dae_cpu_parallel_for ((size_t) dy->n * dy->c, 4.0 * l.h * l.w, avgpool2_backward_range, &l);
}

static void
upsample2_range (const void *ctx, size_t pl0, size_t pl1, int thread)
{
  const Loop *l = ctx;
  const size_t h = l->h, w = l->w;
  (void) thread;
  for (size_t pl = pl0; pl < pl1; pl++) {
    const float *xq = l->x + pl * h * w;
    float *yq = l->y + pl * 4 * h * w;
    for (size_t i = 0; i < 2 * h; i++)
      for (size_t j = 0; j < 2 * w; j++)
        yq[i * 2 * w + j] = xq[(i / 2) * w + j / 2];
  }
}

static void
cpu_upsample2_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (y),.x = dae_cpu_ptr (x),.h = x->h,.w = x->w };
  dae_cpu_parallel_for ((size_t) x->n * x->c, 4.0 * l.h * l.w, upsample2_range, &l);
}

static void
upsample2_backward_range (const void *ctx, size_t pl0, size_t pl1, int thread)
{
  const Loop *l = ctx;
  const size_t h = l->h, w = l->w;
  (void) thread;
  for (size_t pl = pl0; pl < pl1; pl++) {
    const float *dyq = l->dy + pl * 4 * h * w;
    float *dxq = l->y + pl * h * w;
    for (size_t i = 0; i < h; i++)
      for (size_t j = 0; j < w; j++)
        dxq[i * w + j] += BLOCK2 (dyq, i, j, 2 * w);
  }
}

static void
cpu_upsample2_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (dx),.dy = dae_cpu_ptr (dy),.h = dx->h,.w = dx->w };
  dae_cpu_parallel_for ((size_t) dx->n * dx->c, 4.0 * l.h * l.w, upsample2_backward_range, &l);
}

/* Global average pooling: planes pl0..pl1 of h = 1, w = hw. */
static void
global_avgpool_range (const void *ctx, size_t pl0, size_t pl1, int thread)
{
  const Loop *l = ctx;
  const size_t hw = l->w;
  (void) thread;
  for (size_t pl = pl0; pl < pl1; pl++) {
    double sum = 0;
#pragma omp simd reduction(+:sum)
    for (size_t i = 0; i < hw; i++)
      sum += l->x[pl * hw + i];
    l->y[pl] = (float) (sum / (double) hw);
  }
}

static void
cpu_global_avgpool_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (y),.x = dae_cpu_ptr (x),.h = 1,.w = (size_t) x->h * x->w };
  dae_cpu_parallel_for ((size_t) x->n * x->c, (double) l.w, global_avgpool_range, &l);
}

static void
global_avgpool_backward_range (const void *ctx, size_t pl0, size_t pl1, int thread)
{
  const Loop *l = ctx;
  const size_t hw = l->w;
  (void) thread;
  for (size_t pl = pl0; pl < pl1; pl++) {
    float g = l->dy[pl] / (float) hw;
    for (size_t i = 0; i < hw; i++)
      l->y[pl * hw + i] += g;
  }
}

static void
cpu_global_avgpool_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy)
{
  (void) s;
  Loop l = {.y = dae_cpu_ptr (dx),.dy = dae_cpu_ptr (dy),.h = 1,.w = (size_t) dx->h * dx->w };
  dae_cpu_parallel_for ((size_t) dx->n * dx->c, (double) l.w, global_avgpool_backward_range,
      &l);
}

/* ---- timestep embedding --------------------------------------------------------------------- */

/* As the published models (PyTorch): freqs = exp(-ln(10000) * arange(half) / half) in float32,
 * arg = t.float() * freqs in float32, then cos and sin of that float argument (here in double,
 * so correctly rounded). For t up to 999 the float32 argument differs from the exact t f_i by
 * up to ~5e-5: matching it is what keeps the model's output close to PyTorch's. */
static void
cpu_timestep_embedding (DaeStream * s, const DaeTensor * y, const DaeTensor * t)
{
  const int dim = y->c, half = dim / 2;
  const float *tp = dae_cpu_ptr (t);
  float *yp = dae_cpu_ptr (y);
  float *freqs = dae_cpu_scratch (s, 0, (size_t) half);
  if (!freqs)
    return;
  dae_timestep_frequencies (half, freqs);
  for (int n = 0; n < y->n; n++)
    for (int i = 0; i < half; i++) {
      float arg = tp[n] * freqs[i];
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
