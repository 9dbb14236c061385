/* The CPU backend's internals: host storage, streams, and the op registration of each op
 * family file (cpu_<family>.c, forward and backward side by side). Ops run at once on the
 * calling thread, with the backend's thread pool inside and OpenBLAS for the matrix products.
 *
 * Threads: the pool's are the only ones that work (dae_cpu_parallel_for). OpenBLAS runs
 * single-threaded (set once when the first CPU backend opens) and every matrix product goes
 * through dae_cpu_sgemm, which cuts C into one block per thread; no op opens an OpenMP
 * parallel region (`omp simd` only). Two runtimes whose idle threads spin after their work
 * (libgomp after every parallel loop, OpenBLAS's pthreads after every sgemm) took the cores
 * from each other, and libgomp's own spinning took them from its working thread on a busy
 * machine: see doc/performance.md, "CPU backend: what it depends on", and doc/compute.md,
 * "Performance notes". */
#ifndef DAE_CPU_BACKEND_H
#define DAE_CPU_BACKEND_H

#include "core/dae_backend_impl.h"

#include <cblas.h>

typedef struct {
  DaeStorage base;
  float *data;                  /* 64-byte aligned */
} DaeCpuStorage;

/* Pointer to element (0,0,0,0) of t. */
static inline float *
dae_cpu_ptr (const DaeTensor * t)
{
  return t ? ((DaeCpuStorage *) t->storage)->data + t->offset : NULL;
}

/* Scratch memory owned by the stream: slot 0..3, at least numel floats, 64-byte aligned,
 * valid until the next call with the same slot. NULL (with the stream failed) when out of
 * memory. */
float *dae_cpu_scratch (DaeStream * s, int slot, size_t numel);

/* The threads of the pool, the calling thread included: OMP_NUM_THREADS when set, else the
 * CPUs the process may run on. */
int dae_cpu_threads (void);

/* fn(ctx, begin, end, thread) over [begin, end) ranges that cover [0, n) once, run on the
 * pool's threads (thread: 0 the caller, up to dae_cpu_threads() - 1; for per-thread scratch).
 * cost: the work of one index in elements, roughly; under DAE_CPU_PARALLEL_MIN in all, or
 * when called from inside a range (nested) or while another thread's loop holds the pool,
 * it is one call fn(ctx, 0, n, 0) on the calling thread. Iterations must be independent:
 * which thread runs which range varies from run to run. */
typedef void (*DaeCpuRangeFn) (const void *ctx, size_t begin, size_t end, int thread);
void dae_cpu_parallel_for (size_t n, double cost, DaeCpuRangeFn fn, const void *ctx);

/* C = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm. When big enough, C is cut into
 * one block of rows or of columns per thread of the pool, each a single-threaded
 * cblas_sgemm; inside a parallel range (or small) one cblas_sgemm on the calling thread.
 * Every element of C comes from one call over the whole of K and the cut depends only on the
 * shape and the number of threads, so the results are the same from run to run. */
void dae_cpu_sgemm (CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* The same on the calling thread alone: the built-in kernels of cpu_sgemm.c, or OpenBLAS. */
void dae_cpu_sgemm_one (CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
    float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
    int ldc);

/* Picks the kernels for dae_cpu_sgemm_one once, when the backend first opens: AVX-512, else
 * AVX2+FMA, else OpenBLAS; DIFFAE_SGEMM=openblas forces OpenBLAS, =avx2 the AVX2 kernels.
 * Returns the choice's name ("avx512 8x32", "avx2 6x16" or "openblas"). */
const char *dae_cpu_sgemm_choose (void);

/* Elements a loop should have before it runs threaded: handing out a job costs a few
 * microseconds, a memory-bound loop does about 1-2 elements per nanosecond. */
#define DAE_CPU_PARALLEL_MIN 32768

void dae_cpu_register_basic (DaeOpsTable * t);
void dae_cpu_register_gemm (DaeOpsTable * t);
void dae_cpu_register_norm (DaeOpsTable * t);
void dae_cpu_register_attention (DaeOpsTable * t);
void dae_cpu_register_train (DaeOpsTable * t);
void dae_cpu_register_diffusion (DaeOpsTable * t);

#endif
