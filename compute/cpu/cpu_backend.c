/* The CPU backend: host memory, immediate execution. */
#include "cpu_backend.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  DaeStream base;
  float *scratch[4];
  size_t scratch_len[4];
} CpuStream;

static DaeOpsTable cpu_ops;
static GOnce cpu_ops_once = G_ONCE_INIT;

static gpointer
init_ops (gpointer data)
{
  (void) data;
  dae_cpu_register_basic (&cpu_ops);
  dae_cpu_register_gemm (&cpu_ops);
  dae_cpu_register_norm (&cpu_ops);
  dae_cpu_register_attention (&cpu_ops);
  dae_cpu_register_train (&cpu_ops);
  dae_cpu_register_diffusion (&cpu_ops);
  return NULL;
}

static DaeStorage *
cpu_storage_new (DaeBackend * be, size_t bytes, DaeError * err)
{
  (void) be;
  DaeCpuStorage *st = calloc (1, sizeof *st);
  size_t padded = (bytes + 63) / 64 * 64;
  st->data = st ? aligned_alloc (64, padded ? padded : 64) : NULL;
  if (!st || !st->data) {
    free (st);
    dae_error_set (err, DAE_ERR_OUT_OF_MEMORY, "out of host memory allocating %zu bytes",
        bytes);
    return NULL;
  }
  return &st->base;
}

static void
cpu_storage_free (DaeStorage * storage)
{
  DaeCpuStorage *st = (DaeCpuStorage *) storage;
  free (st->data);
  free (st);
}

static DaeStream *
cpu_stream_new (DaeBackend * be, DaeError * err)
{
  (void) be;
  CpuStream *s = calloc (1, sizeof *s);
  if (!s)
    dae_error_set (err, DAE_ERR_OUT_OF_MEMORY, "out of host memory");
  return s ? &s->base : NULL;
}

static void
cpu_stream_free (DaeStream * base)
{
  CpuStream *s = (CpuStream *) base;
  for (int i = 0; i < 4; i++)
    free (s->scratch[i]);
  free (s);
}

float *
dae_cpu_scratch (DaeStream * base, int slot, size_t numel)
{
  CpuStream *s = (CpuStream *) base;
  g_assert (slot >= 0 && slot < 4);
  if (s->scratch_len[slot] < numel) {
    free (s->scratch[slot]);
    size_t bytes = (numel * 4 + 63) / 64 * 64;
    s->scratch[slot] = aligned_alloc (64, bytes);
    s->scratch_len[slot] = s->scratch[slot] ? numel : 0;
    if (!s->scratch[slot])
      dae_stream_fail (base, DAE_ERR_OUT_OF_MEMORY,
          "out of host memory allocating %zu bytes of scratch", numel * 4);
  }
  return s->scratch[slot];
}

static DaeStatus
cpu_stream_sync (DaeStream * s)
{
  return s->error.code;
}

static void
cpu_transfer (const DaeTensor * t, float *host, bool to_tensor)
{
  float *base = dae_cpu_ptr (t);
  size_t sample = dae_tensor_sample_size (t);
  for (int n = 0; n < t->n; n++) {
    float *p = base + (size_t) n * t->nstride;
    if (to_tensor)
      memcpy (p, host + n * sample, sample * 4);
    else
      memcpy (host + n * sample, p, sample * 4);
  }
}

static void
cpu_tensor_write (DaeStream * s, const DaeTensor * t, const float *src)
{
  (void) s;
  cpu_transfer (t, (float *) src, true);
}

static void
cpu_tensor_read (DaeStream * s, const DaeTensor * t, float *dst)
{
  (void) s;
  cpu_transfer (t, dst, false);
}

static void
cpu_destroy (DaeBackend * be)
{
  free (be);
}

static const DaeBackendClass cpu_class = {
  .name = "cpu",
  .destroy = cpu_destroy,
  .storage_new = cpu_storage_new,
  .storage_free = cpu_storage_free,
  .stream_new = cpu_stream_new,
  .stream_free = cpu_stream_free,
  .stream_sync = cpu_stream_sync,
  .tensor_write = cpu_tensor_write,
  .tensor_read = cpu_tensor_read,
  .ops = &cpu_ops,
};

DaeStatus
dae_cpu_backend_open (const DaeBackendOptions * opts, DaeBackend ** out, DaeError * err)
{
  (void) opts;
  (void) err;
  g_once (&cpu_ops_once, init_ops, NULL);
  DaeBackend *be = calloc (1, sizeof *be);
  be->klass = &cpu_class;
  be->refcount = 1;
  be->kind = DAE_BACKEND_CPU;
  be->is_gpu = false;
  g_snprintf (be->description, sizeof be->description,
      "cpu (OpenBLAS %s, %d threads)", openblas_get_config (), omp_get_max_threads ());
  *out = be;
  return DAE_OK;
}
