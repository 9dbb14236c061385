/* The CPU backend's internals: host storage, streams, and the op registration of each op
 * family file (cpu_<family>.c, forward and backward side by side). Ops run at once on the
 * calling thread, with OpenMP threads inside and OpenBLAS for the matrix products. */
#ifndef DAE_CPU_BACKEND_H
#define DAE_CPU_BACKEND_H

#include "core/dae_backend_impl.h"

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

void dae_cpu_register_basic (DaeOpsTable * t);
void dae_cpu_register_gemm (DaeOpsTable * t);
void dae_cpu_register_norm (DaeOpsTable * t);
void dae_cpu_register_attention (DaeOpsTable * t);
void dae_cpu_register_train (DaeOpsTable * t);
void dae_cpu_register_diffusion (DaeOpsTable * t);

#endif
