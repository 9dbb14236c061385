/* The safetensors container (doc/weights.md): a reader that validates the whole header before
 * handing anything out, and an atomic writer.
 *
 * Reader: the file is memory-mapped read-only; tensor data is exposed as raw little-endian bytes
 * (not necessarily aligned) and converted to f32 by dae_safetensors_read_f32. Every error message
 * starts with the file's path and names the tensor where there is one. A mapped file must not be
 * truncated while open (the writer below replaces files by rename, which is safe).
 *
 * Writer: tensors are given as f32 host arrays and stored as F32 or F16; the file is written to a
 * temporary file in the same folder, synced and renamed over the target, so a reader (or a crash)
 * never sees half a file. */
#ifndef DAE_SAFETENSORS_H
#define DAE_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dae_error.h"

#define DAE_SAFETENSORS_MAX_DIMS 8
/* Largest header accepted (the limit of the reference Rust implementation). */
#define DAE_SAFETENSORS_MAX_HEADER 100000000u

typedef enum {
  DAE_DTYPE_F32,
  DAE_DTYPE_F16,
} DaeDtype;

const char *dae_dtype_name (DaeDtype dtype);
size_t dae_dtype_size (DaeDtype dtype);

/* IEEE 754 half <-> single. f16 -> f32 is exact (subnormals, infinities, NaN payloads);
 * f32 -> f16 rounds to nearest even, overflows to infinity, keeps NaN a NaN. */
float dae_f16_to_f32 (uint16_t h);
uint16_t dae_f32_to_f16 (float f);

/* ---- reader ---------------------------------------------------------------------------------- */

typedef struct DaeSafetensors DaeSafetensors;

typedef struct {
  const char *name;
  DaeDtype dtype;
  int ndim;
  int64_t dims[DAE_SAFETENSORS_MAX_DIMS];
  size_t numel;
  size_t begin;                 /* data_offsets[0], relative to the data section */
  size_t nbytes;                /* numel * dtype size */
  const uint8_t *data;          /* raw little-endian bytes, valid until close; unaligned */
} DaeSafetensorsTensor;

/* Opens and validates path. Errors: DAE_ERR_IO (cannot open or map), DAE_ERR_FORMAT (anything
 * wrong with the contents), DAE_ERR_OUT_OF_MEMORY. */
DaeStatus dae_safetensors_open (const char *path, DaeSafetensors ** out, DaeError * err);

/* The same on a buffer that stays valid (and unchanged) until close; name is used in messages. */
DaeStatus dae_safetensors_open_buffer (const void *data, size_t size, const char *name,
    DaeSafetensors ** out, DaeError * err);

void dae_safetensors_close (DaeSafetensors * st);

const char *dae_safetensors_path (const DaeSafetensors * st);

/* Tensors in header order. */
size_t dae_safetensors_count (const DaeSafetensors * st);
const DaeSafetensorsTensor *dae_safetensors_get (const DaeSafetensors * st, size_t index);

/* NULL when there is no tensor of that name. */
const DaeSafetensorsTensor *dae_safetensors_find (const DaeSafetensors * st, const char *name);

/* Converts tensor name to f32 into dst, which holds count floats; count must equal the tensor's
 * element count (DAE_ERR_INVALID otherwise, DAE_ERR_FORMAT for an unknown name). */
DaeStatus dae_safetensors_read_f32 (const DaeSafetensors * st, const char *name, float *dst,
    size_t count, DaeError * err);
/* The same for a tensor already looked up. */
void dae_safetensors_tensor_to_f32 (const DaeSafetensorsTensor * t, float *dst);

/* __metadata__: value of key, or NULL. Keys in header order by index. */
const char *dae_safetensors_metadata (const DaeSafetensors * st, const char *key);
size_t dae_safetensors_metadata_count (const DaeSafetensors * st);
const char *dae_safetensors_metadata_key (const DaeSafetensors * st, size_t index);

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct DaeSafetensorsWriter DaeSafetensorsWriter;

DaeSafetensorsWriter *dae_safetensors_writer_new (void);
void dae_safetensors_writer_free (DaeSafetensorsWriter * w);

/* Adds a tensor of ndim dims (0..DAE_SAFETENSORS_MAX_DIMS) stored as dtype. data (prod(dims)
 * floats) is borrowed: it must stay valid until dae_safetensors_writer_write returns. Names are
 * unique, non-empty and not "__metadata__" (DAE_ERR_INVALID). */
DaeStatus dae_safetensors_writer_add (DaeSafetensorsWriter * w, const char *name, DaeDtype dtype,
    int ndim, const int64_t * dims, const float *data, DaeError * err);

/* Sets __metadata__[key] = value (both copied; a second call with the same key replaces it). */
void dae_safetensors_writer_set_metadata (DaeSafetensorsWriter * w, const char *key,
    const char *value);

/* Writes the file atomically (temporary file, fsync, rename, fsync of the folder). Tensors are
 * laid out in the order added, header padded with spaces to a multiple of 8 bytes. */
DaeStatus dae_safetensors_writer_write (DaeSafetensorsWriter * w, const char *path,
    DaeError * err);

#endif
