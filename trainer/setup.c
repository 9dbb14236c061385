#include "setup.h"
#include "util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/json.h"

DaeStatus
tr_data_open (const TrArgs * a, int size, int channels, TrData * d, DaeError * err)
{
  memset (d, 0, sizeof *d);
  if (!a->data)
    return dae_error_set (err, DAE_ERR_INVALID, "--data is required (a PNG folder or IDX file)");
  if (tr_image_set_load (a->data, size, channels, &d->train_set, err) != DAE_OK)
    return err->code;
  if (a->test_data) {
    if (tr_image_set_load (a->test_data, size, channels, &d->test_set, err) != DAE_OK)
      return err->code;
    d->n_train = d->train_set->count;
    d->train = g_new (int, d->n_train);
    for (int i = 0; i < d->n_train; i++)
      d->train[i] = i;
    d->n_test = d->test_set->count;
    d->test = g_new (int, d->n_test);
    for (int i = 0; i < d->n_test; i++)
      d->test[i] = i;
    return DAE_OK;
  }
  d->test_set = d->train_set;
  double pct = TR_ORF (a->holdout, 5.0);
  if (pct < 0 || pct >= 100)
    return dae_error_set (err, DAE_ERR_INVALID, "--holdout %g is outside [0, 100)", pct);
  TrSplit split;
  tr_split_make (d->train_set->count, pct, (uint64_t) TR_OR (a->split_seed, -1, 0), &split);
  d->train = split.train;
  d->n_train = split.n_train;
  d->test = split.test;
  d->n_test = split.n_test;
  return DAE_OK;
}

void
tr_data_clear (TrData * d)
{
  if (d->test_set != d->train_set)
    tr_image_set_free (d->test_set);
  tr_image_set_free (d->train_set);
  g_free (d->train);
  g_free (d->test);
  memset (d, 0, sizeof *d);
}

char *
tr_out_path (const TrArgs * a, const char *name)
{
  return g_build_filename (a->out, name, NULL);
}

DaeStatus
tr_out_make (const TrArgs * a, DaeError * err)
{
  if (!a->out)
    return dae_error_set (err, DAE_ERR_INVALID, "--out DIR is required");
  if (g_mkdir_with_parents (a->out, 0755) != 0)
    return dae_error_set (err, DAE_ERR_IO, "%s: cannot create the folder: %s", a->out,
        g_strerror (errno));
  return DAE_OK;
}

static void
append_string (GString * b, const char *key, const char *v)
{
  g_string_append_printf (b, ",\n  \"%s\": ", key);
  if (v)
    dae_json_append_string (b, v);
  else
    g_string_append (b, "null");
}

DaeStatus
tr_run_state_save (const TrArgs * a, const char *phase, DaeError * err)
{
  GString *b = g_string_new ("{\n  \"phase\": ");
  dae_json_append_string (b, phase);
  append_string (b, "data", a->data);
  append_string (b, "test", a->test_data);
  append_string (b, "model", a->model);
  g_string_append (b, ",\n  \"holdout\": ");
  dae_json_append_double (b, TR_ORF (a->holdout, a->test_data ? 0.0 : 5.0));
  g_string_append_printf (b, ",\n  \"split_seed\": %lld,\n  \"batch\": %d,\n  \"steps\": %lld\n}\n",
      (long long) TR_OR (a->split_seed, -1, 0), a->batch, (long long) a->steps);
  char *path = tr_out_path (a, "run.json");
  DaeStatus st = tr_write_text (path, b->str, err);
  g_free (path);
  g_string_free (b, TRUE);
  return st;
}

/* Takes a string setting from the saved run unless it was given (and then checks it). */
static void
resume_string (const DaeJson * j, const char *key, const char *option, char **field)
{
  const DaeJson *v = dae_json_member (j, key);
  if (!v || v->type != DAE_JSON_STRING)
    return;
  if (!*field)
    *field = g_strdup (v->str.s);
  else if (strcmp (*field, v->str.s) != 0)
    fprintf (stderr, "diffae-train: note: %s %s differs from the resumed run's %s: the data "
        "order will not match an uninterrupted run\n", option, *field, v->str.s);
}

static double
json_number (const DaeJson * j, const char *key, double def)
{
  const DaeJson *v = dae_json_member (j, key);
  return v && v->type == DAE_JSON_NUMBER ? v->num.value : def;
}

static void
resume_numbers (const DaeJson * j, TrArgs * a)
{
  double holdout = json_number (j, "holdout", NAN), batch = json_number (j, "batch", -1);
  double split = json_number (j, "split_seed", -1);
  if (isnan (a->holdout))
    a->holdout = holdout;
  if (a->batch < 0)
    a->batch = (int) batch;
  if (a->split_seed < 0)
    a->split_seed = (gint64) split;
  if (a->steps < 0)
    a->steps = (gint64) json_number (j, "steps", -1);
  if ((!isnan (holdout) && a->holdout != holdout) || (batch > 0 && a->batch != batch) ||
      (split >= 0 && a->split_seed != (gint64) split))
    fprintf (stderr, "diffae-train: note: --batch, --holdout or --split-seed differ from the "
        "resumed run's (%g, %g, %g): the data order will not match an uninterrupted run\n",
        batch, holdout, split);
}

DaeStatus
tr_run_state_load (TrArgs * a, const char *phase, DaeError * err)
{
  char *path = tr_out_path (a, "run.json");
  char *text = g_file_test (path, G_FILE_TEST_EXISTS) ? tr_read_text (path, err) : NULL;
  char msg[128];
  DaeJson *j = text ? dae_json_parse (text, strlen (text), msg, sizeof msg) : NULL;
  const DaeJson *ph = j ? dae_json_member (j, "phase") : NULL;
  DaeStatus st = DAE_OK;
  if (text && (!j || j->type != DAE_JSON_OBJECT))
    st = dae_error_set (err, DAE_ERR_FORMAT, "%s: unreadable (%s)", path, j ? "not an object" : msg);
  else if (ph && ph->type == DAE_JSON_STRING && strcmp (ph->str.s, phase) != 0)
    st = dae_error_set (err, DAE_ERR_INVALID, "%s belongs to a %s run, not %s", path,
        ph->str.s, phase);
  else if (j) {
    resume_string (j, "data", "--data", &a->data);
    resume_string (j, "test", "--test", &a->test_data);
    resume_string (j, "model", "--model", &a->model);
    resume_numbers (j, a);
  }
  dae_json_free (j);
  g_free (text);
  g_free (path);
  return st;
}
