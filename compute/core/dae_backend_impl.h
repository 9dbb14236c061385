/* What a backend implements. Only compute/core, compute/ops and the backends include this.
 *
 * The op wrappers in compute/ops/ check shapes and the stream's sticky error, then call the
 * backend's DaeOpsTable entry. A NULL entry means "not implemented on this backend" and is
 * reported as a sticky error naming the op. */
#ifndef DAE_BACKEND_IMPL_H
#define DAE_BACKEND_IMPL_H

#include <glib.h>

#include "dae_backend.h"
#include "ops/dae_ops.h"

typedef struct {
  /* basic */
  void (*fill) (DaeStream *, const DaeTensor * y, float value);
  void (*copy) (DaeStream *, const DaeTensor * y, const DaeTensor * x);
  void (*axpy) (DaeStream *, const DaeTensor * y, const DaeTensor * x, float alpha);
  void (*silu_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * x);
  void (*silu_backward) (DaeStream *, const DaeTensor * dx, const DaeTensor * dy,
      const DaeTensor * x);
  void (*avgpool2_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * x);
  void (*avgpool2_backward) (DaeStream *, const DaeTensor * dx, const DaeTensor * dy);
  void (*upsample2_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * x);
  void (*upsample2_backward) (DaeStream *, const DaeTensor * dx, const DaeTensor * dy);
  void (*global_avgpool_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * x);
  void (*global_avgpool_backward) (DaeStream *, const DaeTensor * dx, const DaeTensor * dy);
  void (*timestep_embedding) (DaeStream *, const DaeTensor * y, const DaeTensor * t);
  /* gemm */
  void (*linear_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * x,
      const DaeTensor * w, const DaeTensor * b, bool accumulate);
  void (*linear_backward) (DaeStream *, const DaeTensor * dx, const DaeTensor * dw,
      const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w);
  void (*conv2d_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * x,
      const DaeTensor * w, const DaeTensor * b, const DaeConvArgs * a);
  void (*conv2d_backward) (DaeStream *, const DaeTensor * dx, const DaeTensor * dw,
      const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w,
      const DaeConvArgs * a);
  /* norm */
  void (*groupnorm_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * stats,
      const DaeTensor * x, const DaeGroupNormArgs * a);
  void (*groupnorm_backward) (DaeStream *, const DaeTensor * dx, const DaeGroupNormGrads * g,
      const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
      const DaeGroupNormArgs * a);
  void (*layernorm_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * stats,
      const DaeTensor * x, const DaeLayerNormArgs * a);
  void (*layernorm_backward) (DaeStream *, const DaeTensor * dx, const DaeLayerNormGrads * g,
      const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
      const DaeLayerNormArgs * a);
  /* attention */
  void (*attention_forward) (DaeStream *, const DaeTensor * y, const DaeTensor * probs,
      const DaeTensor * qkv);
  void (*attention_backward) (DaeStream *, const DaeTensor * dqkv, const DaeTensor * dy,
      const DaeTensor * qkv, const DaeTensor * probs);
  /* train */
  void (*mse_loss) (DaeStream *, const DaeTensor * loss, const DaeTensor * dpred,
      const DaeTensor * pred, const DaeTensor * target, float grad_scale);
  void (*l1_loss) (DaeStream *, const DaeTensor * loss, const DaeTensor * dpred,
      const DaeTensor * pred, const DaeTensor * target, float grad_scale);
  void (*sumsq) (DaeStream *, const DaeTensor * out, const DaeTensor * x);
  void (*clip_factor) (DaeStream *, const DaeTensor * factor, const DaeTensor * sumsq,
      float max_norm);
  void (*adam_update) (DaeStream *, const DaeTensor * param, const DaeTensor * grad,
      const DaeTensor * m, const DaeTensor * v, const DaeAdamArgs * a);
  void (*ema_update) (DaeStream *, const DaeTensor * ema, const DaeTensor * param, float decay);
  /* diffusion */
  void (*ddim_update) (DaeStream *, const DaeTensor * out, const DaeTensor * x,
      const DaeTensor * eps_hat, const DaeDdimArgs * a);
} DaeOpsTable;

typedef struct {
  const char *name;                 /* "cpu", "vulkan" */
  void (*destroy) (DaeBackend * be);
  /* Storage of at least bytes bytes; NULL with err set on failure. */
  DaeStorage *(*storage_new) (DaeBackend * be, size_t bytes, DaeError * err);
  void (*storage_free) (DaeStorage * st);
  /* Streams: the backend allocates its DaeStream subclass (DaeStream must be its first member). */
  DaeStream *(*stream_new) (DaeBackend * be, DaeError * err);
  void (*stream_free) (DaeStream * s);
  DaeStatus (*stream_sync) (DaeStream * s);   /* waits; on failure calls dae_stream_fail */
  void (*tensor_write) (DaeStream * s, const DaeTensor * t, const float *src);
  void (*tensor_read) (DaeStream * s, const DaeTensor * t, float *dst);   /* after sync */
  void (*stats) (DaeBackend * be, DaeBackendStats * out);   /* may be NULL */
  const DaeOpsTable *ops;
} DaeBackendClass;

struct DaeBackend {
  const DaeBackendClass *klass;
  gint refcount;
  DaeBackendKind kind;
  bool is_gpu;
  char description[256];
};

struct DaeStorage {
  DaeBackend *be;
  size_t bytes;
};

struct DaeStream {
  DaeBackend *be;
  DaeError error;                   /* sticky; see dae_backend.h */
};

/* Backend constructors (each in its own folder). */
DaeStatus dae_cpu_backend_open (const DaeBackendOptions * opts, DaeBackend ** out,
    DaeError * err);
DaeStatus dae_vk_backend_open (const DaeBackendOptions * opts, DaeBackend ** out,
    DaeError * err);

/* Byte extent of t within its storage: [first, first + len) covering every element. */
void dae_tensor_extent (const DaeTensor * t, size_t * first, size_t * count);

/* ---- arithmetic both backends must do identically (compute/ops/) ------------------------ */

/* The timestep-embedding frequencies f_i = exp(-ln(10000) i / half), i < half, in float32 as
 * PyTorch's CPU build computes them (ops_basic.c). */
void dae_timestep_frequencies (int half, float *freqs);

/* The scalars of one Adam step, computed in double and rounded to float the way PyTorch passes
 * Python numbers to its float kernels (ops_train.c). */
typedef struct {
  float wd, decay, beta1, beta2, one_m_beta1, one_m_beta2, eps, step_size, bc2_sqrt;
} DaeAdamScalars;

DaeAdamScalars dae_adam_scalars (const DaeAdamArgs * a);

/* Profiling: add one sample of `seconds` to the op `name` (thread-safe). */
void dae_profile_add (const char *name, double seconds);

#endif
