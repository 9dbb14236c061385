/* diffae-train classify: one linear classifier per attribute on normalised z_sem (logistic
 * regression), stored in the model file as direction.NAME (weights) and direction.NAME.bias;
 * reports each classifier's accuracy on the held-out images. */
#include "commands.h"
#include "labels.h"
#include "logreg.h"
#include "model_util.h"
#include "setup.h"
#include "util.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "io/model_file.h"

#define ENCODE_BATCH 64

typedef struct {
  int n, zc;
  int *image;                   /* labelled images */
  float *z;                     /* their normalised z_sem */
  const TrLabels *labels;
} Labelled;

typedef struct {
  TrArgs *a;
  DaeBackend *be;
  DaeModel *m;
  DaeSession *s;
  DaeModelFile *mf;
  TrData data;
  TrLabels *labels, *test_labels;
  int n_fit, *fit;              /* the label columns to fit, in order */
  Labelled train, test;
} Classify;

/* The labelled images among idx (of set), encoded and normalised. */
static DaeStatus
encode_labelled (Classify * c, const TrImageSet * set, const TrLabels * labels, const int *idx,
    int n, Labelled * out, DaeError * err)
{
  out->labels = labels;
  out->zc = c->mf->config.z_channels;
  out->image = g_new (int, MAX (n, 1));
  out->n = 0;
  for (int i = 0; i < n; i++)
    if (tr_labels_has (labels, idx[i]))
      out->image[out->n++] = idx[i];
  out->z = g_new (float, (size_t) MAX (out->n, 1) * out->zc);
  return tr_encode_set (c->s, set, out->image, out->n, ENCODE_BATCH, out->z, err);
}

static void
normalise (Labelled * l, const float *mean, const float *std)
{
  for (int i = 0; i < l->n; i++)
    for (int j = 0; j < l->zc; j++)
      l->z[(size_t) i * l->zc + j] = (l->z[(size_t) i * l->zc + j] - mean[j]) / std[j];
}

/* The statistics of the model file, or (when it has none) of the training z, stored then. */
static DaeStatus
ensure_stats (Classify * c, DaeError * err)
{
  if (!c->mf->latent_mean) {
    int zc = c->train.zc;
    float *mean = g_new (float, zc), *std = g_new (float, zc);
    float *z = g_new (float, (size_t) c->data.n_train * zc);
    DaeStatus st = tr_encode_set (c->s, c->data.train_set, c->data.train, c->data.n_train,
        ENCODE_BATCH, z, err);
    if (st == DAE_OK) {
      tr_latent_stats (z, c->data.n_train, zc, mean, std);
      st = dae_model_file_set_latent_stats (c->mf, mean, std, err);
      printf ("classify: the model had no latent statistics; stored those of %d training "
          "images\n", c->data.n_train);
    }
    g_free (mean);
    g_free (std);
    g_free (z);
    if (st != DAE_OK)
      return st;
  }
  normalise (&c->train, c->mf->latent_mean, c->mf->latent_std);
  normalise (&c->test, c->mf->latent_mean, c->mf->latent_std);
  return DAE_OK;
}

static int *
attribute_targets (const Labelled * l, int attr, int *positives)
{
  int *y = g_new (int, MAX (l->n, 1));
  *positives = 0;
  for (int i = 0; i < l->n; i++) {
    y[i] = l->labels->values[(size_t) l->image[i] * l->labels->n_attrs + attr];
    *positives += y[i];
  }
  return y;
}

/* Fits attribute `attr`, stores its direction; false when it cannot be fitted. */
static DaeStatus
fit_attribute (Classify * c, int attr, DaeError * err)
{
  const char *name = c->labels->attrs[attr];
  int pos, test_pos;
  int *y = attribute_targets (&c->train, attr, &pos);
  int *yt = attribute_targets (&c->test, attr, &test_pos);
  DaeStatus st = DAE_OK;
  if (pos == 0 || pos == c->train.n) {
    printf ("  %-20s skipped: every labelled training image has the value %d\n", name,
        pos ? 1 : 0);
  } else {
    TrLogReg lr = { 0 };
    tr_logreg_fit (&lr, c->train.z, c->train.n, c->train.zc, y, 2,
        TR_ORF (c->a->l2, 1e-4), TR_OR (c->a->iterations, -1, 500));
    /* Two-class softmax = logistic regression on w1 - w0, b1 - b0. */
    float *w = g_new (float, c->train.zc);
    for (int j = 0; j < c->train.zc; j++)
      w[j] = lr.w[c->train.zc + j] - lr.w[j];
    double acc = tr_logreg_accuracy (&lr, c->train.z, c->train.n, y);
    double test_acc = tr_logreg_accuracy (&lr, c->test.z, c->test.n, yt);
    printf ("  %-20s %6d / %-6d %9.4f %9.4f (%d held out)\n", name, pos, c->train.n, acc,
        test_acc, c->test.n);
    st = dae_model_file_set_direction (c->mf, name, w, true, lr.b[1] - lr.b[0], err);
    g_free (w);
    tr_logreg_clear (&lr);
  }
  g_free (y);
  g_free (yt);
  return st;
}

static int
label_column (const TrLabels * l, const char *name)
{
  for (int i = 0; i < l->n_attrs; i++)
    if (strcmp (l->attrs[i], name) == 0)
      return i;
  return -1;
}

static bool
chosen (const Classify * c, int col)
{
  for (int i = 0; i < c->n_fit; i++)
    if (c->fit[i] == col)
      return true;
  return false;
}

/* The columns of --attributes (checked against the labels before any image is encoded), or
 * every column. */
static DaeStatus
choose_columns (Classify * c, DaeError * err)
{
  const TrLabels *l = c->labels;
  if (!c->a->attributes) {
    c->fit = g_new (int, MAX (l->n_attrs, 1));
    for (c->n_fit = 0; c->n_fit < l->n_attrs; c->n_fit++)
      c->fit[c->n_fit] = c->n_fit;
    return DAE_OK;
  }
  gchar **names = g_strsplit (c->a->attributes, ",", -1);
  c->fit = g_new (int, g_strv_length (names) + 1);
  DaeStatus st = DAE_OK;
  for (int i = 0; names[i] && st == DAE_OK; i++) {
    const char *name = g_strstrip (names[i]);
    int col = label_column (l, name);
    if (col < 0) {
      gchar *known = g_strjoinv (", ", l->attrs);
      st = dae_error_set (err, DAE_ERR_INVALID, "--attributes: %s has no column \"%s\" "
          "(it has: %s)", c->a->labels, name, known);
      g_free (known);
    } else if (chosen (c, col)) {
      st = dae_error_set (err, DAE_ERR_INVALID, "--attributes names %s twice", name);
    } else {
      c->fit[c->n_fit++] = col;
    }
  }
  g_strfreev (names);
  if (st == DAE_OK && c->n_fit == 0)
    st = dae_error_set (err, DAE_ERR_INVALID, "--attributes names no attribute");
  return st;
}

static DaeStatus
prepare (Classify * c, DaeError * err)
{
  TrArgs *a = c->a;
  if (!a->model || !a->labels)
    return dae_error_set (err, DAE_ERR_INVALID, "--model and --labels are required");
  if (tr_args_open_backend (a, &c->be, err) != DAE_OK ||
      dae_model_file_load (a->model, &c->mf, err) != DAE_OK ||
      dae_model_load (c->be, a->model, &c->m, err) != DAE_OK ||
      dae_session_new (c->m, &c->s, err) != DAE_OK)
    return err->code;
  const DaeModelConfig *cfg = &c->mf->config;
  if (tr_data_open (a, cfg->image_size, cfg->in_channels, &c->data, err) != DAE_OK ||
      tr_labels_load (a->labels, c->data.train_set, &c->labels, err) != DAE_OK ||
      choose_columns (c, err) != DAE_OK)
    return err->code;
  c->test_labels = c->labels;
  if (a->test_data && (!a->test_labels || tr_labels_load (a->test_labels, c->data.test_set,
              &c->test_labels, err) != DAE_OK))
    return a->test_labels ? err->code : dae_error_set (err, DAE_ERR_INVALID,
        "--test needs --test-labels for the held-out accuracy");
  if (c->test_labels->n_attrs != c->labels->n_attrs)
    return dae_error_set (err, DAE_ERR_INVALID, "%s and %s name different attributes",
        a->labels, a->test_labels);
  if (encode_labelled (c, c->data.train_set, c->labels, c->data.train, c->data.n_train,
          &c->train, err) != DAE_OK ||
      encode_labelled (c, c->data.test_set, c->test_labels, c->data.test, c->data.n_test,
          &c->test, err) != DAE_OK)
    return err->code;
  if (c->train.n < 2)
    return dae_error_set (err, DAE_ERR_INVALID, "%s labels %d training images; need 2 or more",
        a->labels, c->train.n);
  return ensure_stats (c, err);
}

static DaeStatus
run (Classify * c, DaeError * err)
{
  if (prepare (c, err) != DAE_OK)
    return err->code;
  printf ("classify: %d labelled training images, %d held out\n", c->train.n, c->test.n);
  printf ("  %-20s %15s %9s %9s\n", "attribute", "positives", "train", "held-out");
  if (c->a->attributes)         /* the output holds exactly the directions named */
    dae_model_file_clear_directions (c->mf);
  for (int i = 0; i < c->n_fit; i++)
    if (fit_attribute (c, c->fit[i], err) != DAE_OK)
      return err->code;
  const char *out = c->a->out ? c->a->out : c->a->model;
  if (dae_model_file_save (c->mf, out, c->mf->dtype, err) != DAE_OK)
    return err->code;
  printf ("wrote %s with %zu directions\n", out, c->mf->n_directions);
  return DAE_OK;
}

int
tr_cmd_classify (TrArgs * a)
{
  DaeError err = { 0 };
  Classify c = {.a = a };
  DaeStatus st = run (&c, &err);
  if (st != DAE_OK)
    tr_print_error (&err);
  g_free (c.fit);
  g_free (c.train.image);
  g_free (c.train.z);
  g_free (c.test.image);
  g_free (c.test.z);
  if (c.test_labels != c.labels)
    tr_labels_free (c.test_labels);
  tr_labels_free (c.labels);
  tr_data_clear (&c.data);
  dae_model_file_free (c.mf);
  dae_session_free (c.s);
  if (c.m)
    dae_model_unref (c.m);
  if (c.be)
    dae_backend_unref (c.be);
  return st == DAE_OK ? 0 : 1;
}
