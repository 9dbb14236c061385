#include "labels.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file.h"
#include "util.h"

void
tr_labels_free (TrLabels * l)
{
  if (!l)
    return;
  g_strfreev (l->attrs);
  g_free (l->values);
  g_free (l);
}

bool
tr_labels_has (const TrLabels * l, int image)
{
  return l->values[(size_t) image * l->n_attrs] >= 0;
}

/* Image index of a row key: an integer index, or a relative path (or a path ending with one
 * of the set's names, e.g. "train/000123.png" for a folder "DATA/train"). */
static int
find_image (const TrImageSet * set, GHashTable * by_name, const char *key)
{
  char *end;
  long v = strtol (key, &end, 10);
  if (*key && !*end)
    return v >= 0 && v < set->count ? (int) v : -2;
  for (const char *k = key; k; k = strchr (k, '/')) {
    if (*k == '/')
      k++;
    gpointer idx = g_hash_table_lookup (by_name, k);
    if (idx)
      return GPOINTER_TO_INT (idx) - 1;
  }
  return -2;
}

static DaeStatus
parse_header (const char *path, const char *line, TrLabels * l, DaeError * err)
{
  char **cols = g_strsplit (line, ",", -1);
  int n = (int) g_strv_length (cols);
  if (n < 2) {
    g_strfreev (cols);
    return dae_error_set (err, DAE_ERR_FORMAT,
        "%s: line 1: need a header with an image column and at least one attribute", path);
  }
  l->n_attrs = n - 1;
  l->attrs = g_new0 (char *, n);
  for (int i = 1; i < n; i++) {
    l->attrs[i - 1] = g_strdup (g_strstrip (cols[i]));
    if (!dae_direction_name_valid (l->attrs[i - 1])) {
      g_strfreev (cols);
      return dae_error_set (err, DAE_ERR_FORMAT,
          "%s: line 1: attribute name \"%s\" must be 1..128 characters of [A-Za-z0-9_-]",
          path, l->attrs[i - 1]);
    }
  }
  g_strfreev (cols);
  return DAE_OK;
}

static DaeStatus
parse_row (const char *path, int line_no, char *line, const TrImageSet * set,
    GHashTable * by_name, TrLabels * l, DaeError * err)
{
  char **cols = g_strsplit (line, ",", -1);
  DaeStatus st = DAE_OK;
  int image = -2;
  if ((int) g_strv_length (cols) != l->n_attrs + 1)
    st = dae_error_set (err, DAE_ERR_FORMAT, "%s: line %d: %u columns, the header has %d",
        path, line_no, g_strv_length (cols), l->n_attrs + 1);
  else if ((image = find_image (set, by_name, g_strstrip (cols[0]))) < 0)
    st = dae_error_set (err, DAE_ERR_FORMAT, "%s: line %d: no image \"%s\" in %s (%d images)",
        path, line_no, cols[0], set->source, set->count);
  for (int a = 0; st == DAE_OK && a < l->n_attrs; a++) {
    const char *v = g_strstrip (cols[a + 1]);
    if (strcmp (v, "1") && strcmp (v, "0") && strcmp (v, "-1"))
      st = dae_error_set (err, DAE_ERR_FORMAT,
          "%s: line %d: attribute %s is \"%s\" (0/1 or -1/1 expected)", path, line_no,
          l->attrs[a], v);
    else
      l->values[(size_t) image * l->n_attrs + a] = strcmp (v, "1") == 0;
  }
  g_strfreev (cols);
  return st;
}

DaeStatus
tr_labels_load (const char *path, const TrImageSet * set, TrLabels ** out, DaeError * err)
{
  *out = NULL;
  char *text = tr_read_text (path, err);
  if (!text)
    return err->code;
  TrLabels *l = g_new0 (TrLabels, 1);
  char **lines = g_strsplit (text, "\n", -1);
  g_free (text);
  DaeStatus st = lines[0] ? parse_header (path, g_strstrip (lines[0]), l, err) :
      dae_error_set (err, DAE_ERR_FORMAT, "%s: empty file", path);
  GHashTable *by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (int i = 0; set->names && i < set->count; i++)
    g_hash_table_insert (by_name, set->names[i], GINT_TO_POINTER (i + 1));
  if (st == DAE_OK) {
    l->n_images = set->count;
    l->values = g_malloc ((size_t) set->count * l->n_attrs);
    memset (l->values, -1, (size_t) set->count * l->n_attrs);
  }
  int rows = 0;
  for (int i = 1; st == DAE_OK && lines[i]; i++) {
    char *line = g_strstrip (lines[i]);
    if (!*line)
      continue;
    st = parse_row (path, i + 1, line, set, by_name, l, err);
    rows++;
  }
  if (st == DAE_OK && rows == 0)
    st = dae_error_set (err, DAE_ERR_FORMAT, "%s: no label rows", path);
  g_hash_table_destroy (by_name);
  g_strfreev (lines);
  if (st != DAE_OK) {
    tr_labels_free (l);
    return st;
  }
  *out = l;
  return DAE_OK;
}

bool
tr_labels_classes (const TrLabels * l, int *classes)
{
  for (int i = 0; i < l->n_images; i++) {
    const signed char *v = l->values + (size_t) i * l->n_attrs;
    classes[i] = -1;
    if (v[0] < 0)
      continue;
    if (l->n_attrs == 1) {
      classes[i] = v[0];
      continue;
    }
    int ones = 0;
    for (int a = 0; a < l->n_attrs; a++)
      if (v[a] == 1) {
        ones++;
        classes[i] = a;
      }
    if (ones != 1)
      return false;
  }
  return true;
}
