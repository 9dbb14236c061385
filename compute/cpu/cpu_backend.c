/* The CPU backend: host memory, immediate execution. */
#include "cpu_backend.h"

#include <cblas.h>
#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  DaeStream base;
  float *scratch[4];
  size_t scratch_len[4];
} CpuStream;

static DaeOpsTable cpu_ops;
static GOnce cpu_ops_once = G_ONCE_INIT;

/* ---- the thread pool ---------------------------------------------------------------------- *
 *
 * One pool per process: dae_cpu_threads() - 1 workers, the calling thread being the other one.
 * A job is published in `next` (generation | next chunk | chunks) and its chunks are claimed
 * one at a time by whoever runs, the caller included, so the caller never waits for a worker
 * that has not started: when the machine is busy and a worker is slow to be scheduled, the
 * caller simply does more of the chunks. It waits only for chunks a worker has claimed.
 *
 * An idle worker spins for SPIN_US, then sleeps on a condition variable. (libgomp's default
 * is to spin for some 300,000 pause instructions, 10-20 ms on recent Intel cores, after every
 * parallel loop: on a 2-core machine shared with other processes those spinning threads took
 * half of this process's CPU time from its own working thread; see doc/performance.md.)
 *
 * The job's fields (fn, ctx, n, per_chunk) are written before `next` is published and stay
 * unchanged until `pending` is 0; a worker reads them only after claiming a chunk, so they
 * are always those of a live job. */

#define SPIN_US 50
#define MAX_CHUNKS 0xffff

static struct {
  int threads;
  DaeCpuRangeFn fn;
  const void *ctx;
  size_t n, per_chunk;
  _Atomic uint64_t next;        /* generation << 32 | next chunk << 16 | chunks */
  atomic_uint pending;          /* chunks of the job not yet finished */
  atomic_uint generation;       /* of the last published job; idle workers watch it */
  atomic_int sleepers;
  atomic_flag busy;             /* one job at a time; other callers run theirs inline */
  GMutex lock;
  GCond wake;
} pool = {.busy = ATOMIC_FLAG_INIT };

static GOnce pool_once = G_ONCE_INIT;
static _Thread_local bool in_task;      /* inside a chunk: nested loops run inline */

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

/* Claims the next chunk of the current job, or -1. */
static int
claim (void)
{
  uint64_t v = atomic_load_explicit (&pool.next, memory_order_acquire);
  for (;;) {
    unsigned idx = (unsigned) (v >> 16) & 0xffff, count = (unsigned) v & 0xffff;
    if (idx >= count)
      return -1;
    if (atomic_compare_exchange_weak_explicit (&pool.next, &v, v + (1u << 16),
            memory_order_acq_rel, memory_order_acquire))
      return (int) idx;
  }
}

static void
run_chunks (int thread)
{
  int c;
  while ((c = claim ()) >= 0) {
    size_t begin = (size_t) c * pool.per_chunk;
    size_t end = MIN (begin + pool.per_chunk, pool.n);
    pool.fn (pool.ctx, begin, end, thread);
    atomic_fetch_sub_explicit (&pool.pending, 1, memory_order_release);
  }
}

static gpointer
worker_main (gpointer data)
{
  int thread = GPOINTER_TO_INT (data);
  unsigned seen = atomic_load (&pool.generation);
  in_task = true;
  for (;;) {
    gint64 until = g_get_monotonic_time () + SPIN_US;
    unsigned g;
    for (int i = 1; (g = atomic_load_explicit (&pool.generation, memory_order_acquire)) == seen;
        i++) {
      cpu_relax ();
      if (i % 64 == 0 && g_get_monotonic_time () > until) {
        g_mutex_lock (&pool.lock);
        atomic_fetch_add (&pool.sleepers, 1);
        while ((g = atomic_load (&pool.generation)) == seen)
          g_cond_wait (&pool.wake, &pool.lock);
        atomic_fetch_sub (&pool.sleepers, 1);
        g_mutex_unlock (&pool.lock);
        break;
      }
    }
    seen = g;
    run_chunks (thread);
  }
  return NULL;
}

static gpointer
pool_start (gpointer data)
{
  (void) data;
  /* The pool's size: OMP_NUM_THREADS when set, else the CPUs this process may run on. */
  pool.threads = MAX (1, omp_get_max_threads ());
  for (int t = 1; t < pool.threads; t++) {
    GError *error = NULL;
    GThread *th = g_thread_try_new ("diffae-cpu", worker_main, GINT_TO_POINTER (t), &error);
    if (!th) {                  /* run with the workers there are */
      g_clear_error (&error);
      pool.threads = t;
      break;
    }
    g_thread_unref (th);
  }
  return NULL;
}

int
dae_cpu_threads (void)
{
  g_once (&pool_once, pool_start, NULL);
  return pool.threads;
}

void
dae_cpu_parallel_for (size_t n, double cost, DaeCpuRangeFn fn, const void *ctx)
{
  int threads = dae_cpu_threads ();
  if (n == 0)
    return;
  if (threads == 1 || n == 1 || (double) n * cost < DAE_CPU_PARALLEL_MIN || in_task ||
      atomic_flag_test_and_set (&pool.busy)) {
    fn (ctx, 0, n, 0);
    return;
  }
  /* chunks: up to 8 per thread (the caller takes over a slow worker's share), each with at
   * least DAE_CPU_PARALLEL_MIN / 4 of work */
  size_t chunks = MIN (n, (size_t) threads * 8);
  chunks = MIN (chunks, (size_t) MAX (2.0, n * cost / (DAE_CPU_PARALLEL_MIN / 4)));
  chunks = MIN (chunks, MAX_CHUNKS);
  size_t per_chunk = (n + chunks - 1) / chunks;
  chunks = (n + per_chunk - 1) / per_chunk;
  pool.fn = fn;
  pool.ctx = ctx;
  pool.n = n;
  pool.per_chunk = per_chunk;
  atomic_store_explicit (&pool.pending, (unsigned) chunks, memory_order_relaxed);
  unsigned g = atomic_load (&pool.generation) + 1;
  atomic_store_explicit (&pool.next, (uint64_t) g << 32 | chunks, memory_order_release);
  atomic_store (&pool.generation, g);   /* seq_cst: ordered against the sleepers check */
  if (atomic_load (&pool.sleepers) > 0) {
    g_mutex_lock (&pool.lock);
    g_cond_broadcast (&pool.wake);
    g_mutex_unlock (&pool.lock);
  }
  in_task = true;
  run_chunks (0);
  in_task = false;
  for (int i = 1; atomic_load_explicit (&pool.pending, memory_order_acquire) != 0; i++) {
    cpu_relax ();
    if (i % 64 == 0)
      sched_yield ();           /* a claimed chunk on a descheduled worker: let it run */
  }
  atomic_flag_clear (&pool.busy);
}

/* ---- matrix products on the pool ------------------------------------------------------------ */

/* Multiply-adds below which a product runs on the calling thread alone (~10 us of work). */
#define SGEMM_SPLIT_MIN (1 << 20)
/* Rows or columns of C per part are a multiple of this (whole micro-kernel tiles and
 * 64-byte lines of C). */
#define SGEMM_SPLIT_ALIGN 16

typedef struct {
  CBLAS_TRANSPOSE ta, tb;
  int m, n, k, lda, ldb, ldc, units, parts;
  bool split_n;
  float alpha, beta;
  const float *a, *b;
  float *c;
} SgemmJob;

/* Parts [p0, p1): part p is units [p units / parts, (p + 1) units / parts) of the cut side. */
static void
sgemm_parts (const void *ctx, size_t p0, size_t p1, int thread)
{
  const SgemmJob *j = ctx;
  (void) thread;
  int len = j->split_n ? j->n : j->m;
  int lo = (int) ((long) j->units * (long) p0 / j->parts) * SGEMM_SPLIT_ALIGN;
  int hi = MIN (len, (int) ((long) j->units * (long) p1 / j->parts) * SGEMM_SPLIT_ALIGN);
  if (hi <= lo)
    return;
  if (j->split_n)               /* columns lo..hi of op(B) and of C */
    dae_cpu_sgemm_one (j->ta, j->tb, j->m, hi - lo, j->k, j->alpha, j->a, j->lda,
        j->b + (j->tb == CblasNoTrans ? (size_t) lo : (size_t) lo * j->ldb), j->ldb, j->beta,
        j->c + lo, j->ldc);
  else                          /* rows lo..hi of op(A) and of C */
    dae_cpu_sgemm_one (j->ta, j->tb, hi - lo, j->n, j->k, j->alpha,
        j->a + (j->ta == CblasNoTrans ? (size_t) lo * j->lda : (size_t) lo), j->lda, j->b,
        j->ldb, j->beta, j->c + (size_t) lo * j->ldc, j->ldc);
}

void
dae_cpu_sgemm (CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
  SgemmJob j = {.ta = ta,.tb = tb,.m = m,.n = n,.k = k,.lda = lda,.ldb = ldb,.ldc = ldc,
    .alpha = alpha,.beta = beta,.a = a,.b = b,.c = c,.split_n = n >= m };
  int len = j.split_n ? n : m;
  j.units = (len + SGEMM_SPLIT_ALIGN - 1) / SGEMM_SPLIT_ALIGN;
  j.parts = MIN (j.units, dae_cpu_threads ());
  if (in_task || j.parts <= 1 || (double) m * n * k < SGEMM_SPLIT_MIN) {
    dae_cpu_sgemm_one (ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  dae_cpu_parallel_for ((size_t) j.parts, (double) m * n * k / j.parts, sgemm_parts, &j);
}

/* OpenBLAS 0.3.21 does not know recent CPUs (e.g. Sapphire or Emerald Rapids) and falls back
 * to its SSE3 "Prescott" kernels, 3-5x slower than its AVX2/AVX-512 ones on the same CPU.
 * The backend's own kernels (cpu_sgemm.c) avoid it on x86-64 CPUs with AVX2; where OpenBLAS
 * still does the products (DIFFAE_SGEMM=openblas, or an older x86 CPU) and runs its generic
 * kernels on an AVX2 CPU, the library says so once per process on stderr, unless
 * DIFFAE_QUIET=1. OPENBLAS_CORETYPE stays the user's to set. */
static void
warn_generic_kernels (const char *sgemm)
{
  const char *core = openblas_get_corename ();
  const char *quiet = g_getenv ("DIFFAE_QUIET");
  if (strcmp (sgemm, "openblas") != 0 || !core || g_ascii_strcasecmp (core, "prescott") != 0
      || (quiet && strcmp (quiet, "1") == 0))
    return;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx2"))
    fprintf (stderr, "diffae: OpenBLAS uses its generic Prescott kernels on this AVX2 CPU; "
        "set OPENBLAS_CORETYPE=%s for 3-5x faster matrix products, or leave DIFFAE_SGEMM "
        "unset for the built-in kernels (DIFFAE_QUIET=1 hides this)\n",
        __builtin_cpu_supports ("avx512f") ? "SkylakeX" : "Haswell");
#endif
}

/* The kernels' name, for the backend's description (set once by init_ops). */
static const char *sgemm_name;

static gpointer
init_ops (gpointer data)
{
  (void) data;
  /* One set of threads, the pool's: OpenBLAS single-threaded, the products cut across the
   * pool by dae_cpu_sgemm (see cpu_backend.h). This setting is process-wide: it also makes
   * any other OpenBLAS user in the process single-threaded. */
  openblas_set_num_threads (1);
  dae_cpu_threads ();
  sgemm_name = dae_cpu_sgemm_choose ();
  warn_generic_kernels (sgemm_name);
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
      "cpu (matrix products: %s; %s; %d threads)", sgemm_name, openblas_get_config (),
      dae_cpu_threads ());
  *out = be;
  return DAE_OK;
}
