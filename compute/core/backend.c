/* Backend selection, streams and tensors: the backend-independent half of the compute core. */
#include "dae_backend_impl.h"

#include <stdlib.h>
#include <string.h>

bool
dae_backend_kind_parse (const char *s, DaeBackendKind * out)
{
  static const struct { const char *name; DaeBackendKind kind; } names[] = {
    {"auto", DAE_BACKEND_AUTO}, {"cpu", DAE_BACKEND_CPU}, {"vulkan", DAE_BACKEND_VULKAN},
  };
  for (size_t i = 0; s && i < G_N_ELEMENTS (names); i++) {
    if (g_ascii_strcasecmp (s, names[i].name) == 0) {
      *out = names[i].kind;
      return true;
    }
  }
  return false;
}

const char *
dae_backend_kind_name (DaeBackendKind kind)
{
  switch (kind) {
    case DAE_BACKEND_CPU: return "cpu";
    case DAE_BACKEND_VULKAN: return "vulkan";
    default: return "auto";
  }
}

/* auto: a Vulkan device that is a real GPU, else the CPU backend (lavapipe is a CPU driver and
 * much slower than OpenBLAS on the same cores; it stays available with kind=vulkan). */
static DaeStatus
open_auto (const DaeBackendOptions * opts, DaeBackend ** out, DaeError * err)
{
  DaeError vk_err = { 0 };
  DaeBackend *vk = NULL;
  if (dae_vk_backend_open (opts, &vk, &vk_err) == DAE_OK) {
    if (vk->is_gpu) {
      *out = vk;
      return DAE_OK;
    }
    dae_backend_unref (vk);
  }
  return dae_cpu_backend_open (opts, out, err);
}

DaeStatus
dae_backend_open (const DaeBackendOptions * opts, DaeBackend ** out, DaeError * err)
{
  DaeBackendOptions o = opts ? *opts : (DaeBackendOptions) { 0 };
  const char *env = g_getenv ("DIFFAE_BACKEND");
  *out = NULL;
  if (o.kind == DAE_BACKEND_AUTO && env && *env) {
    if (!dae_backend_kind_parse (env, &o.kind))
      return dae_error_set (err, DAE_ERR_INVALID,
          "DIFFAE_BACKEND=%s is not one of auto, cpu, vulkan", env);
  }
  const char *val = g_getenv ("DIFFAE_VALIDATION");
  if (val && strcmp (val, "1") == 0)
    o.validation = true;
  switch (o.kind) {
    case DAE_BACKEND_CPU:
      return dae_cpu_backend_open (&o, out, err);
    case DAE_BACKEND_VULKAN:
      return dae_vk_backend_open (&o, out, err);
    default:
      return open_auto (&o, out, err);
  }
}

DaeBackend *
dae_backend_ref (DaeBackend * be)
{
  g_atomic_int_inc (&be->refcount);
  return be;
}

void
dae_backend_unref (DaeBackend * be)
{
  if (be && g_atomic_int_dec_and_test (&be->refcount))
    be->klass->destroy (be);
}

DaeBackendKind
dae_backend_kind (const DaeBackend * be)
{
  return be->kind;
}

const char *
dae_backend_description (const DaeBackend * be)
{
  return be->description;
}

bool
dae_backend_is_gpu (const DaeBackend * be)
{
  return be->is_gpu;
}

void
dae_backend_stats (DaeBackend * be, DaeBackendStats * out)
{
  *out = (DaeBackendStats) { 0 };
  if (be->klass->stats)
    be->klass->stats (be, out);
}

/* ---- streams -------------------------------------------------------------------------- */

DaeStatus
dae_stream_new (DaeBackend * be, DaeStream ** out, DaeError * err)
{
  *out = be->klass->stream_new (be, err);
  if (!*out)
    return err ? err->code : DAE_ERR_OUT_OF_MEMORY;
  (*out)->be = dae_backend_ref (be);
  dae_error_clear (&(*out)->error);
  return DAE_OK;
}

void
dae_stream_free (DaeStream * s)
{
  if (!s)
    return;
  DaeBackend *be = s->be;
  be->klass->stream_free (s);
  dae_backend_unref (be);
}

DaeBackend *
dae_stream_backend (DaeStream * s)
{
  return s->be;
}

DaeStatus
dae_stream_sync (DaeStream * s, DaeError * err)
{
  s->be->klass->stream_sync (s);
  DaeStatus code = dae_error_propagate (err, &s->error);
  /* A lost device stays lost: the backend keeps failing every later sync itself. */
  dae_error_clear (&s->error);
  return code;
}

DaeStatus
dae_stream_status (const DaeStream * s)
{
  return s->error.code;
}

void
dae_stream_fail (DaeStream * s, DaeStatus code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  dae_error_setv (&s->error, code, fmt, ap);
  va_end (ap);
}

/* ---- tensors -------------------------------------------------------------------------- */

DaeTensor *
dae_tensor_new (DaeBackend * be, int n, int c, int h, int w, DaeError * err)
{
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0) {
    dae_error_set (err, DAE_ERR_INVALID, "tensor shape %dx%dx%dx%d is not positive", n, c, h,
        w);
    return NULL;
  }
  size_t numel = (size_t) n * c * h * w;
  DaeTensor *t = calloc (1, sizeof *t);
  if (!t) {
    dae_error_set (err, DAE_ERR_OUT_OF_MEMORY, "out of host memory");
    return NULL;
  }
  t->storage = be->klass->storage_new (be, numel * sizeof (float), err);
  if (!t->storage) {
    free (t);
    return NULL;
  }
  t->storage->be = be;
  t->storage->bytes = numel * sizeof (float);
  t->n = n;
  t->c = c;
  t->h = h;
  t->w = w;
  t->nstride = (size_t) c * h * w;
  t->owned = true;
  return t;
}

void
dae_tensor_free (DaeTensor * t)
{
  if (!t)
    return;
  g_return_if_fail (t->owned);
  t->storage->be->klass->storage_free (t->storage);
  free (t);
}

size_t
dae_tensor_sample_size (const DaeTensor * t)
{
  return (size_t) t->c * t->h * t->w;
}

size_t
dae_tensor_numel (const DaeTensor * t)
{
  return (size_t) t->n * dae_tensor_sample_size (t);
}

bool
dae_tensor_is_contiguous (const DaeTensor * t)
{
  return t->n == 1 || t->nstride == dae_tensor_sample_size (t);
}

bool
dae_tensor_same_shape (const DaeTensor * a, const DaeTensor * b)
{
  return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

DaeBackend *
dae_tensor_backend (const DaeTensor * t)
{
  return t->storage->be;
}

const char *
dae_tensor_shape_str (const DaeTensor * t, char *buf, size_t len)
{
  if (!t)
    g_strlcpy (buf, "(none)", len);
  else
    g_snprintf (buf, len, "%dx%dx%dx%d", t->n, t->c, t->h, t->w);
  return buf;
}

void
dae_tensor_extent (const DaeTensor * t, size_t * first, size_t * count)
{
  *first = t->offset;
  *count = (size_t) (t->n - 1) * t->nstride + dae_tensor_sample_size (t);
}

DaeTensor
dae_tensor_view_samples (const DaeTensor * t, int n0, int count)
{
  g_assert (n0 >= 0 && count > 0 && n0 + count <= t->n);
  DaeTensor v = *t;
  v.owned = false;
  v.offset = t->offset + (size_t) n0 * t->nstride;
  v.n = count;
  return v;
}

DaeTensor
dae_tensor_view_channels (const DaeTensor * t, int c0, int count)
{
  g_assert (c0 >= 0 && count > 0 && c0 + count <= t->c);
  DaeTensor v = *t;
  v.owned = false;
  v.offset = t->offset + (size_t) c0 * t->h * t->w;
  v.c = count;
  return v;
}

DaeTensor
dae_tensor_reshape (const DaeTensor * t, int n, int c, int h, int w)
{
  g_assert (dae_tensor_is_contiguous (t));
  g_assert ((size_t) n * c * h * w == dae_tensor_numel (t));
  DaeTensor v = *t;
  v.owned = false;
  v.n = n;
  v.c = c;
  v.h = h;
  v.w = w;
  v.nstride = (size_t) c * h * w;
  return v;
}

void
dae_tensor_write (DaeStream * s, const DaeTensor * t, const float *src)
{
  if (s->error.code)
    return;
  if (t->storage->be != s->be) {
    dae_stream_fail (s, DAE_ERR_INVALID, "tensor_write: tensor is on another backend");
    return;
  }
  s->be->klass->tensor_write (s, t, src);
}

DaeStatus
dae_tensor_read (DaeStream * s, const DaeTensor * t, float *dst, DaeError * err)
{
  if (t->storage->be != s->be)
    dae_stream_fail (s, DAE_ERR_INVALID, "tensor_read: tensor is on another backend");
  if (dae_stream_sync (s, err) != DAE_OK)
    return err ? err->code : DAE_ERR_DEVICE;
  s->be->klass->tensor_read (s, t, dst);
  return dae_stream_sync (s, err);
}
