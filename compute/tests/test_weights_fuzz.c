/* Corrupted model files: every variant must be refused with DAE_ERR_FORMAT and a message that
 * names the file (and the tensor, where the corruption is in one), or load to exactly what the
 * original holds. Never a crash, never a leak (run under valgrind by meson).
 *
 * The base file is the tiny_grey config with random weights, latent statistics and two
 * directions. The variants, by class:
 *
 *   truncate   the file cut at many lengths                                        must fail
 *   hbyte      one header byte replaced by a random byte                           rule H
 *   hbit       one header bit flipped                                              rule H
 *   length     the header length field changed                                     must fail
 *   offsets    one tensor's data_offsets made bogus (reversed, shifted, out of range,
 *              not integers, wrong arity)                                          must fail
 *   shape      one tensor's shape made bogus (other dims, reordered, extra dims, negative,
 *              overflowing, not integers)                                          must fail
 *   dtype      one tensor's dtype made bogus (BF16, F64, I32, F16 over F32 data, not a string)
 *                                                                                  must fail
 *   duplicate  a tensor entry, an entry field, __metadata__, a metadata key or a config key
 *              repeated                                                            must fail
 *   missing    a tensor entry (with or without its data), an entry field, __metadata__,
 *              diffae.format, diffae.config or a config key left out               must fail
 *   nan        a NaN or infinity planted in a tensor's data                        must fail,
 *                                                                                  naming it
 *   garbage    the header replaced by garbage or by JSON that is not a header      must fail
 *   data       1-3 random bytes or bits of the data section changed                rule D
 *   extras     latent.std <= 0, an all-zero direction, a bad direction name or shape, an
 *              unknown tensor, a cond_layers.1 copy that differs                   must fail;
 *              a cond_layers.1 copy equal to linear_emb                            must pass
 *
 * Rule H (a header byte): either refused, or the loaded model (config, every value, extras) is
 * identical to the original. A header holds a few values that no loader can check because every
 * value is valid: the config's name and dropout values and the directions' NAMEs. Random header
 * corruption is therefore never planted in those bytes; everywhere else a change must be caught
 * (or be harmless: e.g. a padding space turned into a tab, or a change to the "note" metadata).
 * Rule D (data bytes): either refused with a message naming a tensor whose bytes were changed
 * (a NaN/infinity, a latent.std <= 0), or every value equals the original except the elements
 * whose bytes were changed.
 *
 * Usage: test_weights_fuzz [--quick]   (--quick: about a third of the variants, for valgrind) */
#include "test_util.h"
#include "weights_util.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"

/* ---- random numbers -------------------------------------------------------------------------- */

static uint64_t rng_state = 0x5eed;

static uint64_t
rnd64 (void)
{
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static size_t
rnd (size_t n)
{
  return (size_t) (rnd64 () % n);
}

/* ---- the base file --------------------------------------------------------------------------- */

typedef struct {
  const char *name, *dtype, *shape, *offsets;   /* raw JSON texts of the entry's fields */
  const char *extra;            /* more raw fields (with a leading comma), or NULL */
  DaeDtype dt;
  size_t begin, end, numel;
} Entry;

typedef struct {
  uint8_t *file;
  size_t size, hlen;            /* whole file; header length */
  const uint8_t *data;          /* data section */
  size_t data_size;
  Entry *entries;
  size_t n;
  char *config;                 /* the config JSON (unescaped) */
  GPtrArray *free_spans;        /* pairs (begin, end) of header bytes never corrupted */
  DaeModelFile *model;          /* what the base file loads to */
  GStringChunk *strings;
} Base;

static Base base_f32, base_f16;

static char *dir;               /* the test's folder */
static char *path;              /* where each variant is written */

static const char *
keep (Base * b, const char *s)
{
  return g_string_chunk_insert (b->strings, s);
}

static const char *
keepf (Base * b, const char *fmt, ...) __attribute__((format (printf, 2, 3)));

static const char *
keepf (Base * b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  const char *k = keep (b, s);
  g_free (s);
  return k;
}

/* The entries of the base file as raw texts, from the (trusted) reader. */
static void
base_entries (Base * b, const DaeSafetensors * st)
{
  b->n = dae_safetensors_count (st);
  b->entries = g_new0 (Entry, b->n);
  for (size_t i = 0; i < b->n; i++) {
    const DaeSafetensorsTensor *t = dae_safetensors_get (st, i);
    Entry *e = &b->entries[i];
    GString *shape = g_string_new ("[");
    for (int d = 0; d < t->ndim; d++)
      g_string_append_printf (shape, "%s%lld", d ? "," : "", (long long) t->dims[d]);
    g_string_append_c (shape, ']');
    e->name = keep (b, t->name);
    e->dtype = keep (b, t->dtype == DAE_DTYPE_F16 ? "\"F16\"" : "\"F32\"");
    e->shape = keep (b, shape->str);
    e->offsets = keepf (b, "[%zu,%zu]", t->begin, t->begin + t->nbytes);
    e->dt = t->dtype;
    e->begin = t->begin;
    e->end = t->begin + t->nbytes;
    e->numel = t->numel;
    g_string_free (shape, TRUE);
  }
}

/* Spans of the header text after each occurrence of `after`, covering the following run of
 * characters from `chars`. */
static void
add_free_spans (Base * b, const char *after, const char *chars)
{
  const char *h = (const char *) b->file + 8, *end = h + b->hlen;
  for (const char *p = h; (p = g_strstr_len (p, end - p, after)); p++) {
    size_t at = (size_t) (p - h) + strlen (after), stop = at;
    while (stop < b->hlen && strchr (chars, h[stop]))
      stop++;
    g_ptr_array_add (b->free_spans, GSIZE_TO_POINTER (at));
    g_ptr_array_add (b->free_spans, GSIZE_TO_POINTER (stop));
  }
}

static bool
in_free_span (const Base * b, size_t pos)
{
  for (guint i = 0; i < b->free_spans->len; i += 2)
    if (pos >= GPOINTER_TO_SIZE (b->free_spans->pdata[i])
        && pos < GPOINTER_TO_SIZE (b->free_spans->pdata[i + 1]))
      return true;
  return false;
}

static void
make_base (Base * b, DaeDtype dtype, const char *file)
{
  DaeError err = { 0 };
  DaeModelFile *mf = wt_random_model ("tiny_grey", dtype == DAE_DTYPE_F16 ? 12 : 11, true);
  char *p = g_build_filename (dir, file, NULL);
  DaeSafetensors *st;
  if (dae_model_file_save (mf, p, dtype, &err) || dae_model_file_load (p, &b->model, &err)
      || dae_safetensors_open (p, &st, &err) || !wt_read_file (p, &b->file, &b->size)) {
    fprintf (stderr, "FATAL: base file: %s\n", err.message);
    exit (1);
  }
  dae_model_file_free (mf);
  b->strings = g_string_chunk_new (4096);
  for (int i = 7; i >= 0; i--)
    b->hlen = b->hlen << 8 | b->file[i];
  b->data = b->file + 8 + b->hlen;
  b->data_size = b->size - 8 - b->hlen;
  base_entries (b, st);
  b->config = g_strdup (dae_safetensors_metadata (st, "diffae.config"));
  dae_safetensors_close (st);
  b->free_spans = g_ptr_array_new ();
  add_free_spans (b, "\\\"name\\\": \\\"", "abcdefghijklmnopqrstuvwxyz_");
  add_free_spans (b, "\\\"dropout\\\": ", "0123456789.eE+-");
  add_free_spans (b, "\"direction.", "abcdefghijklmnopqrstuvwxyz");
  g_assert (b->free_spans->len == 2 * (1 + 2 + 3));
  g_free (p);
}

static void
free_base (Base * b)
{
  dae_model_file_free (b->model);
  g_free (b->file);
  g_free (b->entries);
  g_free (b->config);
  g_ptr_array_free (b->free_spans, TRUE);
  g_string_chunk_free (b->strings);
}

/* A new file: the header built from entries (plus metadata, config), then data. */
typedef struct {
  const char *metadata;         /* raw text of __metadata__'s value; NULL: from the config */
  const char *config;           /* the config JSON; NULL: the base's */
  const char *prefix, *suffix;  /* raw members before / after the tensors (with commas) */
} HeaderParts;

static GByteArray *
compose (const Base * b, const Entry * e, size_t n, const HeaderParts * hp, const uint8_t * data,
    size_t data_size)
{
  GString *h = g_string_new ("{\"__metadata__\":");
  if (hp && hp->metadata) {
    g_string_append (h, hp->metadata);
  } else {
    g_string_append (h, "{\"diffae.format\":\"1\",\"diffae.config\":");
    dae_json_append_string (h, hp && hp->config ? hp->config : b->config);
    g_string_append (h, "}");
  }
  if (hp && hp->prefix)
    g_string_append (h, hp->prefix);
  for (size_t i = 0; i < n; i++) {
    const char *keys[3] = { "dtype", "shape", "data_offsets" };
    const char *values[3] = { e[i].dtype, e[i].shape, e[i].offsets };
    bool first = true;
    g_string_append_c (h, ',');
    dae_json_append_string (h, e[i].name);
    g_string_append (h, ":{");
    for (int k = 0; k < 3; k++) {
      if (values[k]) {          /* NULL: the field left out */
        g_string_append_printf (h, "%s\"%s\":%s", first ? "" : ",", keys[k], values[k]);
        first = false;
      }
    }
    g_string_append_printf (h, "%s}", e[i].extra ? e[i].extra : "");
  }
  if (hp && hp->suffix)
    g_string_append (h, hp->suffix);
  g_string_append_c (h, '}');
  GByteArray *f = g_byte_array_new ();
  uint8_t len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (uint8_t) ((uint64_t) h->len >> (8 * i));
  g_byte_array_append (f, len, 8);
  g_byte_array_append (f, (const uint8_t *) h->str, (guint) h->len);
  g_byte_array_append (f, data ? data : b->data, (guint) (data ? data_size : b->data_size));
  g_string_free (h, TRUE);
  return f;
}

/* The base's entries, copied for editing. */
static Entry *
entries_copy (const Base * b)
{
  return g_memdup2 (b->entries, b->n * sizeof (Entry));
}

/* ---- checking -------------------------------------------------------------------------------- */

typedef enum {
  MUST_FAIL,
  RULE_H,                       /* refused, or identical to the base */
  RULE_D,                       /* refused naming a changed tensor, or equal outside changes */
  MUST_PASS,                    /* loads, identical to the base */
} Rule;

#define MAX_CHANGES 4

typedef struct {
  const char *cls;
  Rule rule;
  const Base *base;
  const char *tensor;           /* MUST_FAIL: the message must name it (NULL: no need) */
  size_t changed[MAX_CHANGES];  /* RULE_D: file offsets of changed bytes */
  int n_changed;
} Expect;

typedef struct {
  const char *cls;
  int total, refused, passed;
} Stats;

static Stats stats[16];
static int n_stats;
static int failures_shown;

static Stats *
stats_for (const char *cls)
{
  for (int i = 0; i < n_stats; i++)
    if (strcmp (stats[i].cls, cls) == 0)
      return &stats[i];
  stats[n_stats].cls = cls;
  return &stats[n_stats++];
}

static void
report (const Expect * x, const char *what, const char *message)
{
  dae_test_failures++;
  if (failures_shown++ < 30)
    fprintf (stderr, "FAIL [%s] %s: %s\n", x->cls, what, message);
}

/* The base entry holding data byte `pos` (relative to the data section), or NULL. */
static const Entry *
entry_at (const Base * b, size_t pos)
{
  for (size_t i = 0; i < b->n; i++)
    if (pos >= b->entries[i].begin && pos < b->entries[i].end)
      return &b->entries[i];
  return NULL;
}

static bool
element_changed (const Expect * x, const Entry * e, size_t index)
{
  size_t size = e->dt == DAE_DTYPE_F16 ? 2 : 4;
  size_t lo = 8 + x->base->hlen + e->begin + index * size;
  for (int k = 0; k < x->n_changed; k++)
    if (x->changed[k] >= lo && x->changed[k] < lo + size)
      return true;
  return false;
}

/* Values of tensor name in a loaded model (params and extras). */
static const float *
model_values (const DaeModelFile * mf, const char *name)
{
  if (strcmp (name, "latent.mean") == 0)
    return mf->latent_mean;
  if (strcmp (name, "latent.std") == 0)
    return mf->latent_std;
  if (g_str_has_prefix (name, "direction.")) {
    const char *d = name + strlen ("direction.");
    for (size_t i = 0; i < mf->n_directions; i++) {
      if (strcmp (mf->directions[i].name, d) == 0)
        return mf->directions[i].weight;
      if (g_str_has_prefix (d, mf->directions[i].name)
          && strcmp (d + strlen (mf->directions[i].name), ".bias") == 0)
        return &mf->directions[i].bias;
    }
    return NULL;
  }
  return dae_model_file_param_by_name (mf, name);
}

/* Rule D: every element whose bytes were not touched is bit-identical. */
static bool
equal_outside_changes (const Expect * x, const DaeModelFile * got)
{
  if (!dae_model_config_equal (&got->config, &x->base->model->config))
    return false;
  for (size_t i = 0; i < x->base->n; i++) {
    const Entry *e = &x->base->entries[i];
    const float *a = model_values (got, e->name), *b = model_values (x->base->model, e->name);
    if (!a || !b)
      return false;
    for (size_t k = 0; k < e->numel; k++)
      if (memcmp (&a[k], &b[k], 4) != 0 && !element_changed (x, e, k))
        return false;
  }
  return true;
}

static bool
names_changed_tensor (const Expect * x, const char *message)
{
  for (int k = 0; k < x->n_changed; k++) {
    const Entry *e = entry_at (x->base, x->changed[k] - 8 - x->base->hlen);
    char *needle = g_strdup_printf ("tensor %s", e ? e->name : "?");
    bool found = strstr (message, needle) != NULL;
    g_free (needle);
    if (found)
      return true;
  }
  return false;
}

static void
judge_refused (const Expect * x, const DaeError * err)
{
  if (err->code != DAE_ERR_FORMAT)
    report (x, "refused with a code other than DAE_ERR_FORMAT", err->message);
  else if (!strstr (err->message, path))
    report (x, "message does not name the file", err->message);
  else if (x->rule == MUST_PASS)
    report (x, "a valid file was refused", err->message);
  else if (x->rule == MUST_FAIL && x->tensor && !strstr (err->message, x->tensor))
    report (x, x->tensor, err->message);
  else if (x->rule == RULE_D && !names_changed_tensor (x, err->message))
    report (x, "message names no changed tensor", err->message);
}

static void
judge_loaded (const Expect * x, const DaeModelFile * got)
{
  if (x->rule == MUST_FAIL)
    report (x, "loaded", "a corrupt file was accepted");
  else if (x->rule != RULE_D && !wt_models_equal (got, x->base->model))
    report (x, "loaded", "accepted with different contents");
  else if (x->rule == RULE_D && !equal_outside_changes (x, got))
    report (x, "loaded", "values changed outside the corrupted bytes");
}

static void
try_variant (GByteArray * file, const Expect * x)
{
  DaeError err = { 0 };
  DaeModelFile *got = NULL;
  Stats *s = stats_for (x->cls);
  if (!wt_write_file (path, file->data, file->len)) {
    fprintf (stderr, "FATAL: writing %s\n", path);
    exit (1);
  }
  g_byte_array_free (file, TRUE);
  DaeStatus status = dae_model_file_load (path, &got, &err);
  s->total++;
  if (status == DAE_OK) {
    s->passed++;
    judge_loaded (x, got);
  } else {
    s->refused++;
    judge_refused (x, &err);
  }
  if ((status == DAE_OK) != (got != NULL))
    report (x, "inconsistent result", "status and model disagree");
  dae_model_file_free (got);
}

static GByteArray *
base_copy (const Base * b, size_t size)
{
  GByteArray *f = g_byte_array_sized_new ((guint) size);
  g_byte_array_append (f, b->file, (guint) size);
  return f;
}

/* ---- classes: raw bytes ---------------------------------------------------------------------- */

static void
fuzz_truncate (const Base * b, int count)
{
  Expect x = { "truncate", MUST_FAIL, b, NULL, { 0 }, 0 };
  for (int i = 0; i < count; i++) {
    size_t len;
    if (i < 40)
      len = (size_t) i;         /* inside the length field and the header's start */
    else if (i < count / 2)
      len = 8 + rnd (b->hlen);  /* inside the header */
    else if (i < count - 2)
      len = 8 + b->hlen + rnd (b->data_size);   /* inside the data */
    else
      len = b->size - 1 - (size_t) (i - (count - 2)) * 3;
    try_variant (base_copy (b, len), &x);
  }
}

static void
fuzz_header_bytes (const Base * b, int count, bool bits)
{
  Expect x = { bits ? "hbit" : "hbyte", RULE_H, b, NULL, { 0 }, 0 };
  for (int i = 0; i < count; i++) {
    size_t pos;
    do
      pos = rnd (b->hlen);
    while (in_free_span (b, pos));
    GByteArray *f = base_copy (b, b->size);
    uint8_t old = f->data[8 + pos];
    if (bits)
      f->data[8 + pos] ^= (uint8_t) (1u << rnd (8));
    else
      do
        f->data[8 + pos] = (uint8_t) rnd (256);
      while (f->data[8 + pos] == old);
    try_variant (f, &x);
  }
}

static void
set_length (GByteArray * f, uint64_t n)
{
  for (int i = 0; i < 8; i++)
    f->data[i] = (uint8_t) (n >> (8 * i));
}

static void
fuzz_length (const Base * b, int count)
{
  Expect x = { "length", MUST_FAIL, b, NULL, { 0 }, 0 };
  const uint64_t fixed[] = { 0, 1, 2, 7, 8, b->hlen * 2, b->size, b->size - 8, b->size - 7,
    UINT64_MAX, UINT64_MAX - 7, 1ull << 63, (1ull << 32) + b->hlen, b->hlen | (1ull << 40),
    DAE_SAFETENSORS_MAX_HEADER + 1ull
  };
  for (int i = 0; i < count; i++) {
    GByteArray *f = base_copy (b, b->size);
    uint64_t n;
    if ((size_t) i < G_N_ELEMENTS (fixed))
      n = fixed[i];
    else if (i % 2)
      n = b->hlen + 1 + rnd (64);
    else
      n = b->hlen - 1 - rnd (MIN (b->hlen - 1, 64));
    set_length (f, n);
    try_variant (f, &x);
  }
}

/* ---- classes: header entries ----------------------------------------------------------------- */

static void
fuzz_offsets (Base * b, int count)
{
  for (int i = 0; i < count; i++) {
    Entry *e = entries_copy (b);
    size_t k = rnd (b->n);
    size_t lo = e[k].begin, hi = e[k].end;
    Expect x = { "offsets", MUST_FAIL, b, e[k].name, { 0 }, 0 };
    switch (i % 14) {
      case 0: e[k].offsets = keepf (b, "[%zu,%zu]", hi, lo); break;
      case 1: e[k].offsets = keepf (b, "[%zu,%zu]", lo + 1, hi + 1); x.tensor = NULL; break;
      case 2: e[k].offsets = keepf (b, "[%zu,%zu]", lo + 4, hi + 4); x.tensor = NULL; break;
      case 3: e[k].offsets = keepf (b, "[%zu,%zu]", lo, hi + 4); break;
      case 4: e[k].offsets = keepf (b, "[%zu,%zu]", lo, hi - 2); break;
      case 5: e[k].offsets = keepf (b, "[%zu,%zu]", lo, b->data_size + 4); break;
      case 6: e[k].offsets = keepf (b, "[%zu,99999999999]", lo); break;
      case 7: e[k].offsets = keepf (b, "[-1,%zu]", hi); break;
      case 8: e[k].offsets = keepf (b, "[%zu.5,%zu]", lo, hi); break;
      case 9: e[k].offsets = keepf (b, "[\"%zu\",%zu]", lo, hi); break;
      case 10: e[k].offsets = keepf (b, "[%zu]", lo); break;
      case 11: e[k].offsets = keepf (b, "[%zu,%zu,%zu]", lo, hi, hi); break;
      case 12: e[k].offsets = keepf (b, "[%zu,18446744073709551616]", lo); break;
      case 13:                 /* over another tensor's bytes, keeping the size */
        e[k].offsets = keepf (b, "[%zu,%zu]", (size_t) (lo ? 0 : 4), (lo ? 0 : 4) + hi - lo);
        x.tensor = NULL;
        break;
    }
    try_variant (compose (b, e, b->n, NULL, NULL, 0), &x);
    g_free (e);
  }
}

/* The shape reordered or one dim changed so that it differs. */
static const char *
other_shape (Base * b, const Entry * e, int how)
{
  const char *s = e->shape;
  switch (how) {
    case 0: return keepf (b, "%.*s,1]", (int) strlen (s) - 1, s);
    case 1: return keepf (b, "[1,%s", s + 1);
    case 2: return keep (b, "[]");
    case 3: return keepf (b, "[%zu]", e->numel + 1);
    case 4: return keepf (b, "[%zu,1]", e->numel);
    case 5: return keep (b, "[-1]");
    case 6: return keep (b, "[4611686018427387904,4]");
    case 7: return keepf (b, "[%zu.0]", e->numel);
    case 8: return keepf (b, "[\"%zu\"]", e->numel);
    case 9: return keep (b, "[1,1,1,1,1,1,1,1,1]");
    case 10: return keepf (b, "[[%zu]]", e->numel);
    case 11: return keep (b, "null");
  }
  return keepf (b, "[%zu]", e->numel * 2);
}

static void
fuzz_shapes (Base * b, int count)
{
  for (int i = 0; i < count; i++) {
    Entry *e = entries_copy (b);
    size_t k = rnd (b->n);
    Expect x = { "shape", MUST_FAIL, b, e[k].name, { 0 }, 0 };
    const char *old = e[k].shape;
    e[k].shape = other_shape (b, &e[k], i % 13);
    if (strcmp (e[k].shape, old) == 0)
      e[k].shape = keepf (b, "[%zu]", e[k].numel + 2);
    try_variant (compose (b, e, b->n, NULL, NULL, 0), &x);
    g_free (e);
  }
}

static void
fuzz_dtypes (Base * b, int count)
{
  static const char *const bogus[] = { "\"BF16\"", "\"F64\"", "\"I32\"", "\"U8\"", "\"BOOL\"",
    "\"f32\"", "\"\"", "32", "null", "\"F8_E4M3\"", "[\"F32\"]", "\"F32 \""
  };
  for (int i = 0; i < count; i++) {
    Entry *e = entries_copy (b);
    size_t k = rnd (b->n);
    Expect x = { "dtype", MUST_FAIL, b, e[k].name, { 0 }, 0 };
    size_t which = (size_t) i % (G_N_ELEMENTS (bogus) + 1);
    /* The other dtype over the same bytes: the size no longer matches. */
    e[k].dtype = which < G_N_ELEMENTS (bogus) ? bogus[which]
        : e[k].dt == DAE_DTYPE_F32 ? "\"F16\"" : "\"F32\"";
    try_variant (compose (b, e, b->n, NULL, NULL, 0), &x);
    g_free (e);
  }
}

/* The config with one key's member removed, duplicated or renamed. */
static char *
config_edit (const Base * b, int how)
{
  static const char *const keys[] = { "name", "image_size", "in_channels", "base_channels",
    "channel_mult", "enc_channel_mult", "num_res_blocks", "attn_resolutions", "embed_channels",
    "z_channels", "dropout", "latent_net"
  };
  const char *key = keys[rnd (G_N_ELEMENTS (keys))];
  char *quoted = g_strdup_printf ("\"%s\": ", key);
  const char *at = strstr (b->config, quoted);
  /* The member runs to the next ", \"" at depth 0 (or the closing brace). */
  const char *end = at;
  int depth = 0;
  for (end = at + strlen (quoted); *end; end++) {
    depth += (*end == '[' || *end == '{') - (*end == ']' || *end == '}');
    if (depth < 0 || (depth == 0 && *end == ','))
      break;
  }
  char *member = g_strndup (at, (size_t) (end - at)), *out;
  if (how == 0)                 /* removed */
    out = g_strdup_printf ("%.*s%s", (int) (at - b->config), b->config, *end == ',' ? end + 2 :
        end);
  else if (how == 1)            /* repeated */
    out = g_strdup_printf ("{%s, %s", member, b->config + 1);
  else                          /* an unknown key added */
    out = g_strdup_printf ("{\"%s_x\": 1, %s", key, b->config + 1);
  if (how == 0 && *end != ',') {
    /* The last member: drop the comma before it instead. */
    g_free (out);
    out = g_strdup_printf ("%.*s}", (int) (at - b->config - 2), b->config);
  }
  g_free (quoted);
  g_free (member);
  return out;
}

static void
fuzz_duplicates (Base * b, int count)
{
  for (int i = 0; i < count; i++) {
    Entry *e = g_new (Entry, b->n + 1);
    memcpy (e, b->entries, b->n * sizeof (Entry));
    size_t k = rnd (b->n), n = b->n;
    Expect x = { "duplicate", MUST_FAIL, b, NULL, { 0 }, 0 };
    HeaderParts hp = { 0 };
    char *config = NULL;
    switch (i % 5) {
      case 0:                   /* the same entry twice */
        e[n++] = e[k];
        x.tensor = e[k].name;
        break;
      case 1:
        e[k].extra = keepf (b, ",\"%s\":%s", i % 2 ? "shape" : "dtype", i % 2 ? e[k].shape :
            e[k].dtype);
        x.tensor = e[k].name;
        break;
      case 2:
        hp.suffix = ",\"__metadata__\":{}";
        break;
      case 3:
        hp.metadata = keepf (b, "{\"diffae.format\":\"1\",\"diffae.format\":\"1\","
            "\"diffae.config\":%s}", "\"{}\"");
        break;
      case 4:
        hp.config = config = config_edit (b, 1);
        break;
    }
    try_variant (compose (b, e, n, &hp, NULL, 0), &x);
    g_free (config);
    g_free (e);
  }
}

/* Data without tensor k's bytes (offsets of later tensors moved down). */
static GByteArray *
without_tensor (Base * b, size_t k)
{
  Entry *e = g_new (Entry, b->n);
  size_t n = 0, cut = b->entries[k].end - b->entries[k].begin;
  for (size_t i = 0; i < b->n; i++) {
    if (i == k)
      continue;
    e[n] = b->entries[i];
    if (e[n].begin >= b->entries[k].end)
      e[n].offsets = keepf (b, "[%zu,%zu]", e[n].begin - cut, e[n].end - cut);
    n++;
  }
  uint8_t *data = g_malloc (b->data_size);
  memcpy (data, b->data, b->entries[k].begin);
  memcpy (data + b->entries[k].begin, b->data + b->entries[k].end,
      b->data_size - b->entries[k].end);
  GByteArray *f = compose (b, e, n, NULL, data, b->data_size - cut);
  g_free (data);
  g_free (e);
  return f;
}

/* A parameter tensor, or latent.mean/latent.std (removing a direction or a bias leaves a valid
 * file: extras are optional). */
static size_t
pick_required (const Base * b)
{
  for (;;) {
    size_t k = rnd (b->n);
    if (!g_str_has_prefix (b->entries[k].name, "direction."))
      return k;
  }
}

static void
fuzz_missing (Base * b, int count)
{
  for (int i = 0; i < count; i++) {
    size_t k = pick_required (b);
    Expect x = { "missing", MUST_FAIL, b, NULL, { 0 }, 0 };
    HeaderParts hp = { 0 };
    char *config = NULL;
    Entry *e = entries_copy (b);
    GByteArray *f = NULL;
    switch (i % 6) {
      case 0:                   /* entry gone, its bytes left: a hole in the data */
        memmove (e + k, e + k + 1, (b->n - k - 1) * sizeof (Entry));
        f = compose (b, e, b->n - 1, NULL, NULL, 0);
        break;
      case 1:                   /* entry and bytes gone */
        f = without_tensor (b, k);
        x.tensor = g_str_has_prefix (b->entries[k].name, "latent.") ? NULL : b->entries[k].name;
        break;
      case 2:                   /* a field gone */
        if (i % 3 == 0)
          e[k].dtype = NULL;
        else if (i % 3 == 1)
          e[k].shape = NULL;
        else
          e[k].offsets = NULL;
        x.tensor = e[k].name;
        break;
      case 3:
        hp.metadata = rnd (2) ? "{\"diffae.format\":\"1\"}" : "{}";
        break;
      case 4:
        hp.metadata = keepf (b, "{\"diffae.config\":\"%s\"}", "{}");
        break;
      case 5:
        hp.config = config = config_edit (b, i % 12 == 5 ? 0 : 2);
        break;
    }
    if (!f)
      f = compose (b, e, b->n, &hp, NULL, 0);
    try_variant (f, &x);
    g_free (config);
    g_free (e);
  }
}

/* A header that is not one: random bytes, other JSON, too deep, too long, cut short. */
static GString *
garbage_header (const Base * b, int kind)
{
  static const char *const other[] = { "null", "[]", "{}", "\"x\"", "123", "true", "{\"a\":1}",
    "{\"__metadata__\":null}"
  };
  const char *header = (const char *) b->file + 8;
  GString *h = g_string_new (NULL);
  size_t n = 1 + rnd (2000);
  switch (kind) {
    case 0:
      for (size_t k = 0; k < n; k++)
        g_string_append_c (h, (char) rnd (256));
      break;
    case 1:
      for (size_t k = 0; k < n; k++)
        g_string_append_c (h, (char) (32 + rnd (95)));
      break;
    case 2:
      g_string_append (h, other[rnd (G_N_ELEMENTS (other))]);
      break;
    case 3:
      for (size_t k = 0; k < 100000; k++)
        g_string_append_c (h, '[');
      break;
    case 4:
      for (size_t k = 0; k < 40; k++)
        g_string_append (h, "{\"a\":");
      g_string_append_c (h, '1');
      for (size_t k = 0; k < 40; k++)
        g_string_append_c (h, '}');
      break;
    case 5:
      g_string_append_len (h, header, (gssize) rnd (b->hlen));
      break;
    case 6:
      g_string_append (h, "\xef\xbb\xbf");    /* a byte order mark */
      g_string_append_len (h, header, (gssize) b->hlen);
      break;
    case 7:
      g_string_append_c (h, '"');
      for (size_t k = 0; k < 200000; k++)
        g_string_append_c (h, 'a');
      break;
    case 8:
      g_string_append (h, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
      break;
    case 9:
      g_string_append_c (h, '{');
      for (size_t k = 0; k < 5000; k++)
        g_string_append_printf (h, "%s\"k%zu\":[1,2,3]", k ? "," : "", k);
      g_string_append_c (h, '}');
      break;
    case 10:
      g_string_append_len (h, header, (gssize) b->hlen);
      g_string_append (h, "{}");
      break;
    default:
      g_string_append (h, "{\"__metadata__\":{\"diffae.format\":\"1\"},\"a\":1e99999}");
      break;
  }
  return h;
}

static void
fuzz_garbage (Base * b, int count)
{
  Expect x = { "garbage", MUST_FAIL, b, NULL, { 0 }, 0 };
  for (int i = 0; i < count; i++) {
    GString *h = garbage_header (b, i % 12);
    GByteArray *f = g_byte_array_new ();
    uint8_t len[8];
    for (int k = 0; k < 8; k++)
      len[k] = (uint8_t) ((uint64_t) h->len >> (8 * k));
    g_byte_array_append (f, len, 8);
    g_byte_array_append (f, (const uint8_t *) h->str, (guint) h->len);
    g_byte_array_append (f, b->data, (guint) MIN (b->data_size, rnd (3) * 4096));
    g_string_free (h, TRUE);
    try_variant (f, &x);
  }
}

/* ---- classes: data --------------------------------------------------------------------------- */

static const Entry *
pick_entry (const Base * b)
{
  return &b->entries[rnd (b->n)];
}

static void
fuzz_nan (const Base * b, int count)
{
  static const uint32_t f32_bad[] = { 0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f800000u,
    0xff800000u, 0x7fffffffu
  };
  static const uint16_t f16_bad[] = { 0x7e00, 0xfe00, 0x7c01, 0x7c00, 0xfc00, 0x7fff };
  for (int i = 0; i < count; i++) {
    const Entry *e = pick_entry (b);
    size_t index = rnd (e->numel), size = e->dt == DAE_DTYPE_F16 ? 2 : 4;
    char *needle = g_strdup_printf ("tensor %s: element %zu is", e->name, index);
    Expect x = { "nan", MUST_FAIL, b, needle, { 0 }, 0 };
    GByteArray *f = base_copy (b, b->size);
    uint8_t *at = f->data + 8 + b->hlen + e->begin + index * size;
    if (size == 4)
      memcpy (at, &f32_bad[rnd (G_N_ELEMENTS (f32_bad))], 4);
    else
      memcpy (at, &f16_bad[rnd (G_N_ELEMENTS (f16_bad))], 2);
    try_variant (f, &x);
    g_free (needle);
  }
}

static void
fuzz_data (const Base * b, int count)
{
  for (int i = 0; i < count; i++) {
    Expect x = { "data", RULE_D, b, NULL, { 0 }, 1 + (int) rnd (3) };
    GByteArray *f = base_copy (b, b->size);
    for (int k = 0; k < x.n_changed; k++) {
      size_t pos = 8 + b->hlen + rnd (b->data_size);
      x.changed[k] = pos;
      if (i % 2)
        f->data[pos] ^= (uint8_t) (1u << rnd (8));
      else
        f->data[pos] = (uint8_t) rnd (256);
    }
    try_variant (f, &x);
  }
}

static const Entry *
find_entry (const Base * b, const char *name)
{
  for (size_t i = 0; i < b->n; i++)
    if (strcmp (b->entries[i].name, name) == 0)
      return &b->entries[i];
  return NULL;
}

/* One more tensor at the end of the data: name, shape text, values (F32). */
static GByteArray *
with_tensor (Base * b, const char *name, const char *shape, const void *bytes, size_t nbytes,
    const char *dtype)
{
  Entry *e = g_new (Entry, b->n + 1);
  memcpy (e, b->entries, b->n * sizeof (Entry));
  e[b->n] = (Entry) { keep (b, name), dtype, keep (b, shape),
    keepf (b, "[%zu,%zu]", b->data_size, b->data_size + nbytes), NULL, DAE_DTYPE_F32, 0, 0, 0 };
  uint8_t *data = g_malloc (b->data_size + nbytes);
  memcpy (data, b->data, b->data_size);
  memcpy (data + b->data_size, bytes, nbytes);
  GByteArray *f = compose (b, e, b->n + 1, NULL, data, b->data_size + nbytes);
  g_free (data);
  g_free (e);
  return f;
}

/* Sets every element of tensor name in the data to value (F32 entries). */
static GByteArray *
with_values (const Base * b, const char *name, size_t first, size_t count, float value)
{
  const Entry *e = find_entry (b, name);
  GByteArray *f = base_copy (b, b->size);
  for (size_t i = first; i < first + count && i < e->numel; i++)
    memcpy (f->data + 8 + b->hlen + e->begin + 4 * i, &value, 4);
  return f;
}

static void
fuzz_extras (Base * b, int count)
{
  const Entry *emb = find_entry (b, "latent_net.layers.0.linear_emb.bias");
  const uint8_t *emb_bytes = b->data + emb->begin;
  size_t emb_size = emb->end - emb->begin, z = (size_t) b->model->config.z_channels;
  const char *emb_dtype = emb->dt == DAE_DTYPE_F16 ? "\"F16\"" : "\"F32\"";
  float *ones = g_new (float, z + 1);
  for (size_t i = 0; i <= z; i++)
    ones[i] = 1.0f;
  char *zshape = g_strdup_printf ("[%zu]", z), *z1shape = g_strdup_printf ("[%zu]", z + 1);
  for (int i = 0; i < count; i++) {
    Expect x = { "extras", MUST_FAIL, b, NULL, { 0 }, 0 };
    GByteArray *f = NULL;
    uint8_t *copy;
    switch (i % 9) {
      case 0: x.tensor = "latent.std";
        f = with_values (b, "latent.std", rnd (z), 1, rnd (2) ? 0.0f : -0.5f); break;
      case 1: x.tensor = "direction.age";
        f = with_values (b, "direction.age", 0, z, 0.0f); break;
      case 2: x.tensor = "direction.a.b";
        f = with_tensor (b, "direction.a.b", zshape, ones, 4 * z, "\"F32\""); break;
      case 3: x.tensor = "direction.wide";
        f = with_tensor (b, "direction.wide", z1shape, ones, 4 * (z + 1), "\"F32\""); break;
      case 4: x.tensor = "encoder.extra.weight";
        f = with_tensor (b, "encoder.extra.weight", zshape, ones, 4 * z, "\"F32\""); break;
      case 5: x.tensor = "latent_net.layers.0.cond_layers.1.bias";
        copy = g_memdup2 (emb_bytes, emb_size);
        copy[rnd (emb_size)] ^= (uint8_t) (1u << rnd (8));
        f = with_tensor (b, x.tensor, "[16]", copy, emb_size, emb_dtype);
        g_free (copy);
        break;
      case 6: x.rule = MUST_PASS;
        f = with_tensor (b, "latent_net.layers.0.cond_layers.1.bias", "[16]", emb_bytes,
            emb_size, emb_dtype);
        break;
      case 7: x.tensor = "latent.mean";
        f = with_tensor (b, "latent.mean", zshape, ones, 4 * z, "\"F32\""); break;
      case 8: x.tensor = "direction.-.bias";
        f = with_tensor (b, "direction.-.bias", "[1]", ones, 4, "\"F32\""); break;
    }
    try_variant (f, &x);
  }
  g_free (ones);
  g_free (zshape);
  g_free (z1shape);
}

/* ---- main ------------------------------------------------------------------------------------ */

static void
fuzz_base (Base * b, int scale)
{
  fuzz_truncate (b, 300 / scale);
  fuzz_header_bytes (b, 250 / scale, false);
  fuzz_header_bytes (b, 250 / scale, true);
  fuzz_length (b, 45 / scale);
  fuzz_offsets (b, 140 / scale);
  fuzz_shapes (b, 130 / scale);
  fuzz_dtypes (b, 65 / scale);
  fuzz_duplicates (b, 50 / scale);
  fuzz_missing (b, 60 / scale);
  fuzz_garbage (b, 60 / scale);
  fuzz_nan (b, 100 / scale);
  fuzz_data (b, 150 / scale);
  fuzz_extras (b, 36 / scale);
}

int
main (int argc, char **argv)
{
  int scale = argc > 1 && strcmp (argv[1], "--quick") == 0 ? 3 : 1;
  dir = wt_tmpdir ("diffae-test-weights-fuzz");
  path = g_build_filename (dir, "variant.safetensors", NULL);
  make_base (&base_f32, DAE_DTYPE_F32, "base32.safetensors");
  make_base (&base_f16, DAE_DTYPE_F16, "base16.safetensors");
  fuzz_base (&base_f32, scale);
  fuzz_base (&base_f16, 3 * scale);
  int total = 0;
  for (int i = 0; i < n_stats; i++) {
    fprintf (stderr, "%-10s %5d variants: %5d refused, %4d loaded\n", stats[i].cls,
        stats[i].total, stats[i].refused, stats[i].passed);
    total += stats[i].total;
  }
  fprintf (stderr, "%d variants in all\n", total);
  CHECK (total >= (scale == 1 ? 1000 : 300), "only %d variants", total);
  free_base (&base_f32);
  free_base (&base_f16);
  wt_rmtree (dir);
  g_free (dir);
  g_free (path);
  return dae_test_finish ("test_weights_fuzz");
}
