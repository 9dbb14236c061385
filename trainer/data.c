#include "data.h"
#include "image_io.h"
#include "util.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_UBYTE 0x08

void
tr_image_set_free (TrImageSet * set)
{
  if (!set)
    return;
  if (set->names)
    for (int i = 0; i < set->count; i++)
      g_free (set->names[i]);
  g_free (set->names);
  g_free (set->source);
  g_free (set->pixels);
  g_free (set);
}

size_t
tr_image_set_image_floats (const TrImageSet * set)
{
  return (size_t) set->channels * set->size * set->size;
}

void
tr_image_set_get (const TrImageSet * set, int i, float *chw)
{
  size_t n = tr_image_set_image_floats (set);
  const uint8_t *p = set->pixels + n * i;
  for (size_t j = 0; j < n; j++)
    chw[j] = p[j] * (2.0f / 255.0f) - 1.0f;
}

static TrImageSet *
image_set_new (const char *path, int count, int channels, int size)
{
  TrImageSet *set = g_new0 (TrImageSet, 1);
  set->source = g_strdup (path);
  set->count = count;
  set->channels = channels;
  set->size = size;
  set->pixels = g_malloc ((size_t) count * channels * size * size);
  return set;
}

/* ---- IDX ------------------------------------------------------------------------------------ */

static uint32_t
be32 (const uint8_t * p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Header checks: ubyte data, 3 or 4 dims, the model's size, a file of exactly that length. */
static DaeStatus
idx_check (const char *path, const uint8_t * d, size_t len, int size, uint32_t * dims,
    DaeError * err)
{
  if (len < 4 || d[0] != 0 || d[1] != 0)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: not an IDX file (bad magic number)", path);
  int nd = d[3];
  if (d[2] != IDX_UBYTE)
    return dae_error_set (err, DAE_ERR_FORMAT,
        "%s: IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)", path, d[2]);
  if (nd != 3 && nd != 4)
    return dae_error_set (err, DAE_ERR_FORMAT,
        "%s: IDX images need 3 dimensions [n, h, w] or 4 [n, h, w, c], this file has %d",
        path, nd);
  if (len < 4 + 4 * (size_t) nd)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: truncated IDX header", path);
  dims[3] = 1;
  for (int i = 0; i < nd; i++)
    dims[i] = be32 (d + 4 + 4 * i);
  if (dims[1] != (uint32_t) size || dims[2] != (uint32_t) size)
    return dae_error_set (err, DAE_ERR_FORMAT,
        "%s: images are %ux%u, the model takes %dx%d (resize the data first)", path, dims[2],
        dims[1], size, size);
  if (dims[3] != 1 && dims[3] != 3)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: %u channels (1 or 3 supported)", path,
        dims[3]);
  if (dims[0] == 0 || dims[0] > 100000000)
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: %u images", path, dims[0]);
  size_t want = 4 + 4 * (size_t) nd + (size_t) dims[0] * dims[1] * dims[2] * dims[3];
  if (len != want)
    return dae_error_set (err, DAE_ERR_FORMAT,
        "%s: the header says %u images of %ux%ux%u (%zu bytes in all), the file has %zu bytes",
        path, dims[0], dims[1], dims[2], dims[3], want, len);
  return DAE_OK;
}

/* Interleaved pixels of `from` channels to CHW planes of `to` channels. */
static void
convert_pixels (const uint8_t * src, int from, int to, size_t plane, uint8_t * out)
{
  for (size_t i = 0; i < plane; i++) {
    const uint8_t *p = src + from * i;
    if (to == from && to == 1)
      out[i] = p[0];
    else if (to == 1)
      out[i] = (uint8_t) ((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
    else
      for (int c = 0; c < 3; c++)
        out[c * plane + i] = p[from == 1 ? 0 : c];
  }
}

static DaeStatus
load_idx (const char *path, int size, int channels, TrImageSet ** out, DaeError * err)
{
  gchar *data = NULL;
  gsize len = 0;
  GError *gerr = NULL;
  if (!g_file_get_contents (path, &data, &len, &gerr)) {
    dae_error_set (err, DAE_ERR_IO, "%s", gerr->message);
    g_error_free (gerr);
    return err->code;
  }
  uint32_t dims[4];
  const uint8_t *d = (const uint8_t *) data;
  if (idx_check (path, d, len, size, dims, err) != DAE_OK) {
    g_free (data);
    return err->code;
  }
  TrImageSet *set = image_set_new (path, (int) dims[0], channels, size);
  size_t plane = (size_t) size * size, in_per = plane * dims[3];
  const uint8_t *src = d + 4 + 4 * d[3];
  for (uint32_t i = 0; i < dims[0]; i++)
    convert_pixels (src + in_per * i, (int) dims[3], channels, plane,
        set->pixels + plane * channels * i);
  g_free (data);
  *out = set;
  return DAE_OK;
}

/* ---- PNG folders ---------------------------------------------------------------------------- */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Relative paths of every *.png (any case) below root/rel. */
static DaeStatus
find_pngs (const char *root, const char *rel, GPtrArray * found, DaeError * err)
{
  char *dir_path = rel[0] ? g_build_filename (root, rel, NULL) : g_strdup (root);
  GError *gerr = NULL;
  GDir *dir = g_dir_open (dir_path, 0, &gerr);
  if (!dir) {
    dae_error_set (err, DAE_ERR_IO, "%s", gerr->message);
    g_error_free (gerr);
    g_free (dir_path);
    return err->code;
  }
  const char *name;
  DaeStatus st = DAE_OK;
  while (st == DAE_OK && (name = g_dir_read_name (dir))) {
    char *child = rel[0] ? g_build_filename (rel, name, NULL) : g_strdup (name);
    char *full = g_build_filename (root, child, NULL);
    if (g_file_test (full, G_FILE_TEST_IS_DIR))
      st = find_pngs (root, child, found, err);
    else if (g_str_has_suffix (name, ".png") || g_str_has_suffix (name, ".PNG"))
      g_ptr_array_add (found, g_steal_pointer (&child));
    g_free (child);
    g_free (full);
  }
  g_dir_close (dir);
  g_free (dir_path);
  return st;
}

static DaeStatus
load_folder (const char *path, int size, int channels, TrImageSet ** out, DaeError * err)
{
  GPtrArray *found = g_ptr_array_new ();
  if (find_pngs (path, "", found, err) != DAE_OK) {
    g_ptr_array_free (found, TRUE);
    return err->code;
  }
  if (found->len == 0) {
    g_ptr_array_free (found, TRUE);
    return dae_error_set (err, DAE_ERR_FORMAT,
        "%s: no .png files in this folder or below it", path);
  }
  g_ptr_array_sort (found, compare_strings);
  TrImageSet *set = image_set_new (path, (int) found->len, channels, size);
  set->names = g_new0 (char *, found->len);
  size_t per = tr_image_set_image_floats (set);
  DaeStatus st = DAE_OK;
  for (guint i = 0; i < found->len; i++) {
    set->names[i] = found->pdata[i];
    char *full = g_build_filename (path, set->names[i], NULL);
    if (st == DAE_OK)
      st = tr_png_load (full, size, channels, set->pixels + per * i, err);
    g_free (full);
  }
  g_ptr_array_free (found, TRUE);
  if (st != DAE_OK) {
    tr_image_set_free (set);
    return st;
  }
  *out = set;
  return DAE_OK;
}

DaeStatus
tr_image_set_load (const char *path, int size, int channels, TrImageSet ** out, DaeError * err)
{
  *out = NULL;
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return load_folder (path, size, channels, out, err);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return dae_error_set (err, DAE_ERR_IO, "%s: no such file or folder", path);
  return load_idx (path, size, channels, out, err);
}

/* ---- split and order ------------------------------------------------------------------------ */

static int
compare_ints (const void *a, const void *b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return (x > y) - (x < y);
}

void
tr_split_make (int count, double holdout_percent, uint64_t split_seed, TrSplit * split)
{
  int *perm = g_new (int, count);
  TrRng rng = { tr_hash3 (split_seed, 0x5917, 0) };
  tr_permutation (&rng, perm, count);
  int n_test = (int) ((count * holdout_percent + 99.999) / 100.0);
  if (holdout_percent <= 0)
    n_test = 0;
  n_test = MIN (n_test, count - 1);
  split->n_train = count - n_test;
  split->n_test = n_test;
  split->train = g_memdup2 (perm, sizeof (int) * (size_t) split->n_train);
  split->test = g_new (int, MAX (n_test, 1));
  memcpy (split->test, perm + split->n_train, sizeof (int) * (size_t) n_test);
  qsort (split->train, (size_t) split->n_train, sizeof (int), compare_ints);
  qsort (split->test, (size_t) n_test, sizeof (int), compare_ints);
  g_free (perm);
}

void
tr_split_clear (TrSplit * split)
{
  g_free (split->train);
  g_free (split->test);
  memset (split, 0, sizeof *split);
}

void
tr_sampler_init (TrSampler * s, const int *pool, int n, uint64_t seed)
{
  *s = (TrSampler) {.pool = pool,.n = n,.seed = seed,.epoch = -1,.perm = g_new (int, n) };
}

void
tr_sampler_clear (TrSampler * s)
{
  g_free (s->perm);
  s->perm = NULL;
}

void
tr_sampler_batch (TrSampler * s, int64_t step, int batch, int *out)
{
  for (int i = 0; i < batch; i++) {
    int64_t sample = step * batch + i, epoch = sample / s->n;
    if (epoch != s->epoch) {
      TrRng rng = { tr_hash3 (s->seed, 0xDA7A, (uint64_t) epoch) };
      tr_permutation (&rng, s->perm, s->n);
      s->epoch = epoch;
    }
    int k = s->perm[sample % s->n];
    out[i] = s->pool ? s->pool[k] : k;
  }
}
