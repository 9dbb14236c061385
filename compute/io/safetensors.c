#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "io/json.h"

/* Tensor bytes are read as they lie in memory: the format is little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

struct DaeSafetensors {
  char *path;
  void *map;                    /* the mapped file, or NULL for a caller's buffer */
  size_t map_size;
  const uint8_t *bytes;
  size_t size;
  const uint8_t *data;          /* data section */
  size_t data_size;
  size_t n_tensors;
  DaeSafetensorsTensor *tensors;
  GHashTable *by_name;          /* name -> index + 1 */
  size_t n_meta;
  char **meta_keys, **meta_values;
  GHashTable *meta;             /* key -> value (borrowed from the arrays) */
};

const char *
dae_dtype_name (DaeDtype dtype)
{
  return dtype == DAE_DTYPE_F16 ? "F16" : "F32";
}

size_t
dae_dtype_size (DaeDtype dtype)
{
  return dtype == DAE_DTYPE_F16 ? 2 : 4;
}

/* ---- half precision -------------------------------------------------------------------------- */

static uint32_t
float_bits (float f)
{
  uint32_t u;
  memcpy (&u, &f, 4);
  return u;
}

static float
bits_float (uint32_t u)
{
  float f;
  memcpy (&f, &u, 4);
  return f;
}

float
dae_f16_to_f32 (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f)
    return bits_float (sign | 0x7f800000u | (man << 13));
  if (exp)
    return bits_float (sign | ((exp + 112) << 23) | (man << 13));
  if (!man)
    return bits_float (sign);
  /* Subnormal: shift the mantissa up to an implicit leading one. */
  uint32_t e = 113;
  while (!(man & 0x400u)) {
    man <<= 1;
    e--;
  }
  return bits_float (sign | (e << 23) | ((man & 0x3ffu) << 13));
}

uint16_t
dae_f32_to_f16 (float f)
{
  /* After F. Giesen's float_to_half_fast3_rtne: subnormals are rounded by the FPU itself by
   * adding a magic number whose ulp is the half subnormal step. */
  uint32_t x = float_bits (f), sign = x & 0x80000000u;
  uint16_t o;
  x ^= sign;
  if (x >= (127u + 16) << 23) {
    o = x > 0x7f800000u ? 0x7e00 : 0x7c00;
  } else if (x < 113u << 23) {
    const uint32_t magic = ((127u - 15) + (23 - 10) + 1) << 23;
    o = (uint16_t) (float_bits (bits_float (x) + bits_float (magic)) - magic);
  } else {
    uint32_t odd = (x >> 13) & 1u;
    x += ((uint32_t) (15 - 127) << 23) + 0xfffu + odd;
    o = (uint16_t) (x >> 13);
  }
  return (uint16_t) (o | (sign >> 16));
}

/* ---- reader ---------------------------------------------------------------------------------- */

/* "path: tensor NAME: what" (tensor may be NULL). */
static DaeStatus
st_fail (const DaeSafetensors * st, DaeError * err, const char *tensor, const char *fmt, ...)
    __attribute__((format (printf, 4, 5)));

static DaeStatus
st_fail (const DaeSafetensors * st, DaeError * err, const char *tensor, const char *fmt, ...)
{
  char what[DAE_ERROR_MESSAGE_MAX];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  if (tensor)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: tensor %s: %s", st->path, tensor, what);
  return dae_error_set (err, DAE_ERR_FORMAT, "%s: %s", st->path, what);
}

static void
shape_text (const int64_t * dims, int ndim, char *buf, size_t len)
{
  size_t n = (size_t) snprintf (buf, len, "[");
  for (int i = 0; i < ndim && n < len; i++)
    n += (size_t) snprintf (buf + n, len - n, "%s%lld", i ? ", " : "", (long long) dims[i]);
  if (n < len)
    snprintf (buf + n, len - n, "]");
}

/* A non-negative JSON integer. */
static bool
json_size (const DaeJson * v, uint64_t * out)
{
  if (v->type != DAE_JSON_NUMBER || !v->num.int_fits || v->num.int_value < 0)
    return false;
  *out = (uint64_t) v->num.int_value;
  return true;
}

static DaeStatus
parse_dtype (DaeSafetensors * st, const char *name, const DaeJson * v, DaeDtype * out,
    DaeError * err)
{
  if (v->type != DAE_JSON_STRING)
    return st_fail (st, err, name, "dtype is %s, not a string", dae_json_type_name (v->type));
  if (strcmp (v->str.s, "F32") == 0)
    *out = DAE_DTYPE_F32;
  else if (strcmp (v->str.s, "F16") == 0)
    *out = DAE_DTYPE_F16;
  else
    return st_fail (st, err, name, "dtype \"%s\" is not supported (only F32 and F16)", v->str.s);
  return DAE_OK;
}

static DaeStatus
parse_shape (DaeSafetensors * st, const char *name, const DaeJson * v, DaeSafetensorsTensor * t,
    DaeError * err)
{
  if (v->type != DAE_JSON_ARRAY)
    return st_fail (st, err, name, "shape is %s, not an array", dae_json_type_name (v->type));
  if (v->kids.n > DAE_SAFETENSORS_MAX_DIMS)
    return st_fail (st, err, name, "shape has %zu dimensions, at most %d are supported",
        v->kids.n, DAE_SAFETENSORS_MAX_DIMS);
  t->ndim = (int) v->kids.n;
  t->numel = 1;
  for (size_t i = 0; i < v->kids.n; i++) {
    uint64_t d;
    if (!json_size (&v->kids.items[i], &d))
      return st_fail (st, err, name, "shape dimension %zu is not a non-negative integer", i);
    t->dims[i] = (int64_t) d;
  }
  /* Multiply only after all dims are known: a 0 anywhere makes a huge product harmless. */
  for (int i = 0; i < t->ndim; i++)
    if (t->dims[i] == 0)
      t->numel = 0;
  for (int i = 0; i < t->ndim && t->numel; i++) {
    if ((uint64_t) t->dims[i] > SIZE_MAX / 4 / t->numel) {
      char s[256];
      shape_text (t->dims, t->ndim, s, sizeof s);
      return st_fail (st, err, name, "shape %s has too many elements", s);
    }
    t->numel *= (size_t) t->dims[i];
  }
  return DAE_OK;
}

static DaeStatus
parse_offsets (DaeSafetensors * st, const char *name, const DaeJson * v, uint64_t off[2],
    DaeError * err)
{
  if (v->type != DAE_JSON_ARRAY || v->kids.n != 2 || !json_size (&v->kids.items[0], &off[0])
      || !json_size (&v->kids.items[1], &off[1]))
    return st_fail (st, err, name, "data_offsets must be [begin, end], two non-negative "
        "integers");
  return DAE_OK;
}

/* Checks the offsets of a tensor whose dtype and shape are known. */
static DaeStatus
check_offsets (DaeSafetensors * st, DaeSafetensorsTensor * t, const uint64_t off[2],
    DaeError * err)
{
  char s[256];
  unsigned long long b = off[0], e = off[1];
  if (b > e)
    return st_fail (st, err, t->name, "data_offsets [%llu, %llu] are reversed", b, e);
  if (e > st->data_size)
    return st_fail (st, err, t->name, "data_offsets [%llu, %llu] run past the end of the data "
        "(%zu bytes)", b, e, st->data_size);
  t->nbytes = t->numel * dae_dtype_size (t->dtype);
  if (e - b != t->nbytes) {
    shape_text (t->dims, t->ndim, s, sizeof s);
    return st_fail (st, err, t->name, "data_offsets [%llu, %llu] hold %llu bytes, but shape %s "
        "of %s needs %zu", b, e, e - b, s, dae_dtype_name (t->dtype), t->nbytes);
  }
  t->begin = (size_t) b;
  t->data = st->data + b;
  return DAE_OK;
}

/* One tensor entry: exactly the fields dtype, shape and data_offsets. */
static DaeStatus
parse_entry (DaeSafetensors * st, const char *name, const DaeJson * v, DaeSafetensorsTensor * t,
    DaeError * err)
{
  static const char *const fields[] = { "dtype", "shape", "data_offsets" };
  const DaeJson *f[3] = { NULL, NULL, NULL };
  if (v->type != DAE_JSON_OBJECT)
    return st_fail (st, err, name, "entry is %s, not an object", dae_json_type_name (v->type));
  for (size_t i = 0; i < v->kids.n; i++) {
    int k = 0;
    while (k < 3 && strcmp (v->kids.keys[i], fields[k]) != 0)
      k++;
    if (k == 3)
      return st_fail (st, err, name, "unknown field \"%s\" (only dtype, shape, data_offsets)",
          v->kids.keys[i]);
    if (f[k])
      return st_fail (st, err, name, "field %s appears twice", fields[k]);
    f[k] = &v->kids.items[i];
  }
  for (int k = 0; k < 3; k++)
    if (!f[k])
      return st_fail (st, err, name, "entry has no %s", fields[k]);
  uint64_t off[2] = { 0, 0 };
  DaeStatus s;
  if ((s = parse_dtype (st, name, f[0], &t->dtype, err)) || (s = parse_shape (st, name, f[1], t,
              err)) || (s = parse_offsets (st, name, f[2], off, err)))
    return s;
  return check_offsets (st, t, off, err);
}

static DaeStatus
parse_metadata (DaeSafetensors * st, const DaeJson * v, DaeError * err)
{
  if (st->meta_keys)
    return st_fail (st, err, NULL, "__metadata__ appears twice");
  if (v->type != DAE_JSON_OBJECT)
    return st_fail (st, err, NULL, "__metadata__ is %s, not an object",
        dae_json_type_name (v->type));
  st->meta_keys = g_new0 (char *, v->kids.n + 1);
  st->meta_values = g_new0 (char *, v->kids.n + 1);
  for (size_t i = 0; i < v->kids.n; i++) {
    const char *key = v->kids.keys[i];
    if (v->kids.items[i].type != DAE_JSON_STRING)
      return st_fail (st, err, NULL, "__metadata__ value of \"%s\" is %s, not a string", key,
          dae_json_type_name (v->kids.items[i].type));
    if (g_hash_table_contains (st->meta, key))
      return st_fail (st, err, NULL, "__metadata__ key \"%s\" appears twice", key);
    st->meta_keys[i] = g_strdup (key);
    st->meta_values[i] = g_strdup (v->kids.items[i].str.s);
    st->n_meta = i + 1;
    g_hash_table_insert (st->meta, st->meta_keys[i], st->meta_values[i]);
  }
  return DAE_OK;
}

static DaeStatus
parse_tensor (DaeSafetensors * st, const char *name, const DaeJson * v, DaeError * err)
{
  if (!*name)
    return st_fail (st, err, NULL, "a tensor has an empty name");
  if (g_hash_table_contains (st->by_name, name))
    return st_fail (st, err, name, "the name appears twice in the header");
  DaeSafetensorsTensor *t = &st->tensors[st->n_tensors];
  memset (t, 0, sizeof *t);
  t->name = g_strdup (name);
  st->n_tensors++;
  g_hash_table_insert (st->by_name, (gpointer) t->name, GSIZE_TO_POINTER (st->n_tensors));
  return parse_entry (st, name, v, t, err);
}

static int
compare_begin (const void *a, const void *b)
{
  const DaeSafetensorsTensor *x = *(const DaeSafetensorsTensor * const *) a;
  const DaeSafetensorsTensor *y = *(const DaeSafetensorsTensor * const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* The tensors must tile the data section exactly: no overlap, no hole, nothing after the last
 * (as the safetensors specification requires; it also catches most corrupted offsets). */
static DaeStatus
check_layout (DaeSafetensors * st, DaeError * err)
{
  DaeSafetensorsTensor **order = g_new (DaeSafetensorsTensor *, st->n_tensors + 1);
  const DaeSafetensorsTensor *last = NULL;     /* the tensor that ends at `at` */
  DaeStatus s = DAE_OK;
  size_t at = 0;
  for (size_t i = 0; i < st->n_tensors; i++)
    order[i] = &st->tensors[i];
  qsort (order, st->n_tensors, sizeof *order, compare_begin);
  for (size_t i = 0; i < st->n_tensors && !s; i++) {
    const DaeSafetensorsTensor *t = order[i];
    if (t->begin < at)
      s = st_fail (st, err, t->name, "data [%zu, %zu) overlaps tensor %s", t->begin,
          t->begin + t->nbytes, last->name);
    else if (t->begin > at)
      s = st_fail (st, err, t->name, "data bytes [%zu, %zu) before this tensor belong to no "
          "tensor", at, t->begin);
    if (t->begin + t->nbytes > at || !last) {
      at = t->begin + t->nbytes;
      last = t;
    }
  }
  if (!s && at != st->data_size)
    s = st_fail (st, err, NULL, "the last %zu bytes of the data belong to no tensor",
        st->data_size - at);
  g_free (order);
  return s;
}

static DaeStatus
parse_header (DaeSafetensors * st, const DaeJson * root, DaeError * err)
{
  if (root->type != DAE_JSON_OBJECT)
    return st_fail (st, err, NULL, "header is %s, not a JSON object",
        dae_json_type_name (root->type));
  st->tensors = g_new0 (DaeSafetensorsTensor, root->kids.n + 1);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->meta = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; i < root->kids.n; i++) {
    const char *key = root->kids.keys[i];
    DaeStatus s = strcmp (key, "__metadata__") == 0
        ? parse_metadata (st, &root->kids.items[i], err)
        : parse_tensor (st, key, &root->kids.items[i], err);
    if (s)
      return s;
  }
  return check_layout (st, err);
}

static DaeStatus
parse_file (DaeSafetensors * st, DaeError * err)
{
  if (st->size < 8)
    return st_fail (st, err, NULL, "file is %zu bytes, too short for a safetensors file (8-byte "
        "header length, then the header)", st->size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = n << 8 | st->bytes[i];
  if (n > st->size - 8)
    return st_fail (st, err, NULL, "header length %llu runs past the end of the file (%zu bytes)",
        (unsigned long long) n, st->size);
  if (n > DAE_SAFETENSORS_MAX_HEADER)
    return st_fail (st, err, NULL, "header length %llu is over the limit of %u bytes",
        (unsigned long long) n, DAE_SAFETENSORS_MAX_HEADER);
  st->data = st->bytes + 8 + n;
  st->data_size = st->size - 8 - (size_t) n;
  char msg[512];
  DaeJson *root = dae_json_parse ((const char *) st->bytes + 8, (size_t) n, msg, sizeof msg);
  if (!root)
    return st_fail (st, err, NULL, "header is not valid JSON: %s (header starts at byte 8)", msg);
  DaeStatus s = parse_header (st, root, err);
  dae_json_free (root);
  return s;
}

static DaeStatus
finish_open (DaeSafetensors * st, DaeSafetensors ** out, DaeError * err)
{
  DaeStatus s = parse_file (st, err);
  if (s) {
    dae_safetensors_close (st);
    return s;
  }
  *out = st;
  return DAE_OK;
}

static DaeStatus
map_file (DaeSafetensors * st, DaeError * err)
{
  int fd = open (st->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return dae_error_set (err, DAE_ERR_IO, "%s: cannot open: %s", st->path, g_strerror (errno));
  struct stat sb;
  DaeStatus s = DAE_OK;
  if (fstat (fd, &sb) != 0)
    s = dae_error_set (err, DAE_ERR_IO, "%s: cannot stat: %s", st->path, g_strerror (errno));
  else if (!S_ISREG (sb.st_mode))
    s = dae_error_set (err, DAE_ERR_IO, "%s: not a regular file", st->path);
  else if (sb.st_size > 0) {
    st->map_size = (size_t) sb.st_size;
    st->map = mmap (NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (st->map == MAP_FAILED) {
      st->map = NULL;
      s = dae_error_set (err, errno == ENOMEM ? DAE_ERR_OUT_OF_MEMORY : DAE_ERR_IO,
          "%s: cannot map %zu bytes: %s", st->path, st->map_size, g_strerror (errno));
    }
  }
  close (fd);
  st->bytes = st->map ? st->map : (const uint8_t *) "";
  st->size = st->map ? st->map_size : 0;
  return s;
}

DaeStatus
dae_safetensors_open (const char *path, DaeSafetensors ** out, DaeError * err)
{
  *out = NULL;
  DaeSafetensors *st = g_new0 (DaeSafetensors, 1);
  st->path = g_strdup (path);
  DaeStatus s = map_file (st, err);
  if (s) {
    dae_safetensors_close (st);
    return s;
  }
  return finish_open (st, out, err);
}

DaeStatus
dae_safetensors_open_buffer (const void *data, size_t size, const char *name,
    DaeSafetensors ** out, DaeError * err)
{
  *out = NULL;
  DaeSafetensors *st = g_new0 (DaeSafetensors, 1);
  st->path = g_strdup (name ? name : "(buffer)");
  st->bytes = data ? data : (const uint8_t *) "";
  st->size = data ? size : 0;
  return finish_open (st, out, err);
}

void
dae_safetensors_close (DaeSafetensors * st)
{
  if (!st)
    return;
  if (st->map)
    munmap (st->map, st->map_size);
  for (size_t i = 0; i < st->n_tensors; i++)
    g_free ((char *) st->tensors[i].name);
  g_free (st->tensors);
  if (st->by_name)
    g_hash_table_destroy (st->by_name);
  if (st->meta)
    g_hash_table_destroy (st->meta);
  g_strfreev (st->meta_keys);
  g_strfreev (st->meta_values);
  g_free (st->path);
  g_free (st);
}

const char *
dae_safetensors_path (const DaeSafetensors * st)
{
  return st->path;
}

size_t
dae_safetensors_count (const DaeSafetensors * st)
{
  return st->n_tensors;
}

const DaeSafetensorsTensor *
dae_safetensors_get (const DaeSafetensors * st, size_t index)
{
  return index < st->n_tensors ? &st->tensors[index] : NULL;
}

const DaeSafetensorsTensor *
dae_safetensors_find (const DaeSafetensors * st, const char *name)
{
  size_t i = GPOINTER_TO_SIZE (g_hash_table_lookup (st->by_name, name));
  return i ? &st->tensors[i - 1] : NULL;
}

void
dae_safetensors_tensor_to_f32 (const DaeSafetensorsTensor * t, float *dst)
{
  if (t->dtype == DAE_DTYPE_F32) {
    memcpy (dst, t->data, t->nbytes);
    return;
  }
  for (size_t i = 0; i < t->numel; i++) {
    uint16_t h;
    memcpy (&h, t->data + 2 * i, 2);
    dst[i] = dae_f16_to_f32 (h);
  }
}

DaeStatus
dae_safetensors_read_f32 (const DaeSafetensors * st, const char *name, float *dst, size_t count,
    DaeError * err)
{
  const DaeSafetensorsTensor *t = dae_safetensors_find (st, name);
  if (!t)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: no tensor %s", st->path, name);
  if (count != t->numel)
    return dae_error_set (err, DAE_ERR_INVALID, "%s: tensor %s: has %zu elements, the caller "
        "asked for %zu", st->path, name, t->numel, count);
  dae_safetensors_tensor_to_f32 (t, dst);
  return DAE_OK;
}

const char *
dae_safetensors_metadata (const DaeSafetensors * st, const char *key)
{
  return st->meta ? g_hash_table_lookup (st->meta, key) : NULL;
}

size_t
dae_safetensors_metadata_count (const DaeSafetensors * st)
{
  return st->n_meta;
}

const char *
dae_safetensors_metadata_key (const DaeSafetensors * st, size_t index)
{
  return index < st->n_meta ? st->meta_keys[index] : NULL;
}

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct {
  char *name;
  DaeDtype dtype;
  int ndim;
  int64_t dims[DAE_SAFETENSORS_MAX_DIMS];
  size_t numel;
  const float *data;
} WriterTensor;

struct DaeSafetensorsWriter {
  GArray *tensors;              /* WriterTensor */
  GHashTable *names;
  GPtrArray *meta_keys, *meta_values;
};

DaeSafetensorsWriter *
dae_safetensors_writer_new (void)
{
  DaeSafetensorsWriter *w = g_new0 (DaeSafetensorsWriter, 1);
  w->tensors = g_array_new (FALSE, TRUE, sizeof (WriterTensor));
  w->names = g_hash_table_new (g_str_hash, g_str_equal);
  w->meta_keys = g_ptr_array_new_with_free_func (g_free);
  w->meta_values = g_ptr_array_new_with_free_func (g_free);
  return w;
}

void
dae_safetensors_writer_free (DaeSafetensorsWriter * w)
{
  if (!w)
    return;
  for (guint i = 0; i < w->tensors->len; i++)
    g_free (g_array_index (w->tensors, WriterTensor, i).name);
  g_array_free (w->tensors, TRUE);
  g_hash_table_destroy (w->names);
  g_ptr_array_free (w->meta_keys, TRUE);
  g_ptr_array_free (w->meta_values, TRUE);
  g_free (w);
}

DaeStatus
dae_safetensors_writer_add (DaeSafetensorsWriter * w, const char *name, DaeDtype dtype,
    int ndim, const int64_t * dims, const float *data, DaeError * err)
{
  if (!name || !*name || strcmp (name, "__metadata__") == 0)
    return dae_error_set (err, DAE_ERR_INVALID, "safetensors writer: bad tensor name \"%s\"",
        name ? name : "(null)");
  if (g_hash_table_contains (w->names, name))
    return dae_error_set (err, DAE_ERR_INVALID, "safetensors writer: tensor %s added twice",
        name);
  if (ndim < 0 || ndim > DAE_SAFETENSORS_MAX_DIMS)
    return dae_error_set (err, DAE_ERR_INVALID, "safetensors writer: tensor %s: %d dimensions",
        name, ndim);
  WriterTensor t = { g_strdup (name), dtype, ndim, { 0 }, 1, data };
  for (int i = 0; i < ndim; i++) {
    if (dims[i] < 0) {
      g_free (t.name);
      return dae_error_set (err, DAE_ERR_INVALID, "safetensors writer: tensor %s: dimension %d "
          "is negative", name, i);
    }
    t.dims[i] = dims[i];
    t.numel *= (size_t) dims[i];
  }
  if (t.numel && !data) {
    g_free (t.name);
    return dae_error_set (err, DAE_ERR_INVALID, "safetensors writer: tensor %s has no data",
        name);
  }
  g_array_append_val (w->tensors, t);
  g_hash_table_add (w->names, g_array_index (w->tensors, WriterTensor, w->tensors->len - 1).name);
  return DAE_OK;
}

void
dae_safetensors_writer_set_metadata (DaeSafetensorsWriter * w, const char *key,
    const char *value)
{
  for (guint i = 0; i < w->meta_keys->len; i++) {
    if (strcmp (g_ptr_array_index (w->meta_keys, i), key) == 0) {
      g_free (g_ptr_array_index (w->meta_values, i));
      g_ptr_array_index (w->meta_values, i) = g_strdup (value);
      return;
    }
  }
  g_ptr_array_add (w->meta_keys, g_strdup (key));
  g_ptr_array_add (w->meta_values, g_strdup (value));
}

/* The JSON header, padded with spaces so that the data section starts at a multiple of 8. */
static GString *
writer_header (DaeSafetensorsWriter * w)
{
  GString *h = g_string_new ("{");
  if (w->meta_keys->len) {
    g_string_append (h, "\"__metadata__\":{");
    for (guint i = 0; i < w->meta_keys->len; i++) {
      if (i)
        g_string_append_c (h, ',');
      dae_json_append_string (h, g_ptr_array_index (w->meta_keys, i));
      g_string_append_c (h, ':');
      dae_json_append_string (h, g_ptr_array_index (w->meta_values, i));
    }
    g_string_append_c (h, '}');
  }
  size_t offset = 0;
  for (guint i = 0; i < w->tensors->len; i++) {
    const WriterTensor *t = &g_array_index (w->tensors, WriterTensor, i);
    size_t nbytes = t->numel * dae_dtype_size (t->dtype);
    if (i || w->meta_keys->len)
      g_string_append_c (h, ',');
    dae_json_append_string (h, t->name);
    g_string_append_printf (h, ":{\"dtype\":\"%s\",\"shape\":[", dae_dtype_name (t->dtype));
    for (int d = 0; d < t->ndim; d++)
      g_string_append_printf (h, "%s%lld", d ? "," : "", (long long) t->dims[d]);
    g_string_append_printf (h, "],\"data_offsets\":[%zu,%zu]}", offset, offset + nbytes);
    offset += nbytes;
  }
  g_string_append_c (h, '}');
  while (h->len % 8)
    g_string_append_c (h, ' ');
  return h;
}

/* Writes one tensor's bytes, converting to F16 in chunks. */
static bool
write_tensor (FILE * f, const WriterTensor * t)
{
  if (t->dtype == DAE_DTYPE_F32)
    return fwrite (t->data, 4, t->numel, f) == t->numel;
  uint16_t chunk[4096];
  for (size_t i = 0; i < t->numel; i += G_N_ELEMENTS (chunk)) {
    size_t n = MIN (G_N_ELEMENTS (chunk), t->numel - i);
    for (size_t k = 0; k < n; k++)
      chunk[k] = dae_f32_to_f16 (t->data[i + k]);
    if (fwrite (chunk, 2, n, f) != n)
      return false;
  }
  return true;
}

static bool
write_contents (DaeSafetensorsWriter * w, FILE * f)
{
  GString *h = writer_header (w);
  uint8_t len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (uint8_t) ((uint64_t) h->len >> (8 * i));
  bool ok = fwrite (len, 1, 8, f) == 8 && fwrite (h->str, 1, h->len, f) == h->len;
  g_string_free (h, TRUE);
  for (guint i = 0; ok && i < w->tensors->len; i++)
    ok = write_tensor (f, &g_array_index (w->tensors, WriterTensor, i));
  return ok && fflush (f) == 0 && fsync (fileno (f)) == 0;
}

/* fsync of the folder makes the rename itself durable. */
static void
sync_folder (const char *path)
{
  char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync (fd);
    close (fd);
  }
  g_free (dir);
}

DaeStatus
dae_safetensors_writer_write (DaeSafetensorsWriter * w, const char *path, DaeError * err)
{
  char *tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    DaeStatus s = dae_error_set (err, DAE_ERR_IO, "%s: cannot create a temporary file: %s", path,
        g_strerror (errno));
    g_free (tmp);
    return s;
  }
  FILE *f = fdopen (fd, "wb");
  bool ok = f && write_contents (w, f);
  int saved = errno;
  if (f ? fclose (f) != 0 : close (fd) != 0)
    ok = ok ? (saved = errno, false) : false;
  if (ok && rename (tmp, path) != 0) {
    saved = errno;
    ok = false;
  }
  DaeStatus s = DAE_OK;
  if (!ok) {
    unlink (tmp);
    s = dae_error_set (err, DAE_ERR_IO, "%s: cannot write: %s", path, g_strerror (saved));
  } else {
    sync_folder (path);
  }
  g_free (tmp);
  return s;
}
