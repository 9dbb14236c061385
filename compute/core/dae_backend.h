/* The compute core: backends, streams and tensors.
 *
 * A DaeBackend is a device (the CPU, or one Vulkan device). It owns memory and compiled
 * pipelines and may be shared by any number of threads.
 *
 * A DaeStream is an ordered queue of work on one backend, used by one thread at a time (one
 * per GStreamer streaming thread, one per trainer). Ops called on a stream run in call order.
 * On the CPU backend they run at once; on Vulkan they are recorded into one command buffer
 * (with barriers only where a dispatch touches memory written or read since the last
 * barrier) and submitted when the stream is synchronised or a tensor is read back.
 *
 * Errors inside ops are sticky: the first failure (a shape mismatch, an allocation failure,
 * a lost device) is stored in the stream, later ops on that stream do nothing, and
 * dae_stream_sync() reports it. Model code therefore calls ops without checking each one.
 *
 * A DaeTensor is a float32 array of shape (n, c, h, w) stored in NCHW order. Vectors and
 * matrices use h = w = 1. Owned tensors come from dae_tensor_new(); views (a range of
 * samples or channels of another tensor) are plain values that borrow the parent's storage.
 * Only dae_copy() and dae_axpy() accept views whose samples are not contiguous
 * (nstride != c*h*w); every other op requires contiguous tensors. */
#ifndef DAE_BACKEND_H
#define DAE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>

#include "dae_error.h"

typedef enum {
  DAE_BACKEND_AUTO = 0,   /* a real GPU through Vulkan if there is one, else the CPU backend */
  DAE_BACKEND_CPU,
  DAE_BACKEND_VULKAN,     /* any Vulkan device, including lavapipe */
} DaeBackendKind;

typedef struct DaeBackend DaeBackend;
typedef struct DaeStream DaeStream;
typedef struct DaeStorage DaeStorage;

typedef struct DaeTensor {
  DaeStorage *storage;
  size_t offset;          /* elements from the start of storage to element (0,0,0,0) */
  size_t nstride;         /* elements between consecutive samples; c*h*w when contiguous */
  int n, c, h, w;
  bool owned;             /* true for tensors from dae_tensor_new (freed by dae_tensor_free) */
} DaeTensor;

typedef struct {
  DaeBackendKind kind;
  const char *device;     /* Vulkan device index or name substring; NULL: $DIFFAE_DEVICE, then the best */
  bool validation;        /* enable VK_LAYER_KHRONOS_validation (also when $DIFFAE_VALIDATION=1) */
} DaeBackendOptions;

/* Backend kind from a string "auto", "cpu" or "vulkan"; returns false for anything else. */
bool dae_backend_kind_parse (const char *s, DaeBackendKind * out);
const char *dae_backend_kind_name (DaeBackendKind kind);

/* Opens a backend. With kind AUTO, $DIFFAE_BACKEND (auto|cpu|vulkan) is honoured first. */
DaeStatus dae_backend_open (const DaeBackendOptions * opts, DaeBackend ** out, DaeError * err);
DaeBackend *dae_backend_ref (DaeBackend * be);
void dae_backend_unref (DaeBackend * be);

DaeBackendKind dae_backend_kind (const DaeBackend * be);
/* Human-readable description, e.g. "cpu (matrix products: avx512 8x32; OpenBLAS ...; 2 threads)" or
 * "vulkan: llvmpipe (LLVM 15.0.6, 256 bits) [cpu]". */
const char *dae_backend_description (const DaeBackend * be);
/* True when the backend runs on a GPU (discrete, integrated or virtual). */
bool dae_backend_is_gpu (const DaeBackend * be);

/* Pipeline statistics (Vulkan; zeros on the CPU backend). */
typedef struct {
  int pipelines_created;        /* compute pipelines created so far */
  double pipeline_seconds;      /* time spent creating them */
  size_t cache_loaded_bytes;    /* size of the on-disk pipeline cache found at start (0: none) */
  const char *cache_path;       /* where that cache lives (NULL on the CPU backend) */
} DaeBackendStats;

void dae_backend_stats (DaeBackend * be, DaeBackendStats * out);

/* Streams. */
DaeStatus dae_stream_new (DaeBackend * be, DaeStream ** out, DaeError * err);
void dae_stream_free (DaeStream * s);
DaeBackend *dae_stream_backend (DaeStream * s);
/* Runs everything queued and waits for it. Returns and clears the sticky error. */
DaeStatus dae_stream_sync (DaeStream * s, DaeError * err);
/* The sticky error so far, without waiting (DAE_OK when none). */
DaeStatus dae_stream_status (const DaeStream * s);
/* Records an error in the stream (first one wins). Used by op implementations. */
void dae_stream_fail (DaeStream * s, DaeStatus code, const char *fmt, ...)
    __attribute__((format (printf, 3, 4)));

/* Tensors. */
DaeTensor *dae_tensor_new (DaeBackend * be, int n, int c, int h, int w, DaeError * err);
void dae_tensor_free (DaeTensor * t);
size_t dae_tensor_numel (const DaeTensor * t);
size_t dae_tensor_sample_size (const DaeTensor * t);   /* c*h*w */
bool dae_tensor_is_contiguous (const DaeTensor * t);
bool dae_tensor_same_shape (const DaeTensor * a, const DaeTensor * b);
DaeBackend *dae_tensor_backend (const DaeTensor * t);
/* Writes "NxCxHxW" into buf; returns buf. */
const char *dae_tensor_shape_str (const DaeTensor * t, char *buf, size_t len);

/* Views. They borrow the parent's storage and must not outlive it. */
DaeTensor dae_tensor_view_samples (const DaeTensor * t, int n0, int count);
DaeTensor dae_tensor_view_channels (const DaeTensor * t, int c0, int count);
/* The same elements seen as another shape (contiguous tensors only; numel must match). */
DaeTensor dae_tensor_reshape (const DaeTensor * t, int n, int c, int h, int w);

/* Host transfers, ordered with the stream's other work. write copies numel floats from src
 * (NCHW order) before returning; read waits for all queued work, then copies into dst. */
void dae_tensor_write (DaeStream * s, const DaeTensor * t, const float *src);
DaeStatus dae_tensor_read (DaeStream * s, const DaeTensor * t, float *dst, DaeError * err);

/* Per-op GPU time (Vulkan timestamps or CPU wall time) when $DIFFAE_PROFILE=1 or
 * dae_profile_enable(true). dae_profile_report prints one line per op name. */
void dae_profile_enable (bool on);
bool dae_profile_enabled (void);
void dae_profile_report (FILE * out);
void dae_profile_reset (void);

#endif
