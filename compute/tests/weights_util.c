#include "weights_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "test_util.h"

static void
die (const char *what, const DaeError * err)
{
  fprintf (stderr, "FATAL: %s: %s\n", what, err ? err->message : "");
  exit (1);
}

DaeModelFile *
wt_random_model (const char *preset, uint64_t seed, bool extras)
{
  DaeError err = { 0 };
  DaeModelConfig cfg;
  DaeModelFile *mf;
  if (dae_model_config_preset (preset, &cfg, &err) || dae_model_file_new (&cfg, &mf, &err))
    die ("making a model", &err);
  DaeTestRng r;
  dae_test_rng_seed (&r, seed);
  dae_test_fill_uniform (&r, mf->values, dae_param_list_numel (mf->params, DAE_PARAM_NET_ALL),
      -1.0f, 1.0f);
  if (!extras)
    return mf;
  size_t z = (size_t) cfg.z_channels;
  float *mean = g_new (float, z), *std = g_new (float, z), *w1 = g_new (float, z),
      *w2 = g_new (float, z);
  dae_test_fill_uniform (&r, mean, z, -0.5f, 0.5f);
  dae_test_fill_uniform (&r, std, z, 0.5f, 1.5f);
  dae_test_fill_uniform (&r, w1, z, -1.0f, 1.0f);
  dae_test_fill_uniform (&r, w2, z, -1.0f, 1.0f);
  if (dae_model_file_set_latent_stats (mf, mean, std, &err)
      || dae_model_file_set_direction (mf, "smile", w1, true, 0.25f, &err)
      || dae_model_file_set_direction (mf, "age", w2, false, 0.0f, &err))
    die ("adding extras", &err);
  g_free (mean);
  g_free (std);
  g_free (w1);
  g_free (w2);
  return mf;
}

static bool
same_floats (const float *a, const float *b, size_t n)
{
  if (!a || !b)
    return a == b;
  return memcmp (a, b, n * sizeof (float)) == 0;
}

static bool
same_directions (const DaeModelFile * a, const DaeModelFile * b)
{
  size_t z = (size_t) a->config.z_channels;
  if (a->n_directions != b->n_directions)
    return false;
  for (size_t i = 0; i < a->n_directions; i++) {
    const DaeDirection *x = &a->directions[i], *y = &b->directions[i];
    if (strcmp (x->name, y->name) != 0 || x->has_bias != y->has_bias
        || memcmp (&x->bias, &y->bias, sizeof x->bias) != 0
        || !same_floats (x->weight, y->weight, z))
      return false;
  }
  return true;
}

bool
wt_models_equal (const DaeModelFile * a, const DaeModelFile * b)
{
  if (!dae_model_config_equal (&a->config, &b->config))
    return false;
  size_t n = dae_param_list_numel (a->params, DAE_PARAM_NET_ALL);
  size_t z = (size_t) a->config.z_channels;
  return n == dae_param_list_numel (b->params, DAE_PARAM_NET_ALL)
      && same_floats (a->values, b->values, n)
      && same_floats (a->latent_mean, b->latent_mean, z)
      && same_floats (a->latent_std, b->latent_std, z) && same_directions (a, b);
}

char *
wt_tmpdir (const char *prefix)
{
  GError *e = NULL;
  char *tmpl = g_strdup_printf ("%s-XXXXXX", prefix);
  char *dir = g_dir_make_tmp (tmpl, &e);
  g_free (tmpl);
  if (!dir) {
    fprintf (stderr, "FATAL: temporary folder: %s\n", e->message);
    exit (1);
  }
  return dir;
}

void
wt_rmtree (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  if (!d)
    return;
  const char *name;
  while ((name = g_dir_read_name (d))) {
    char *p = g_build_filename (dir, name, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
      wt_rmtree (p);
    else
      g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

bool
wt_read_file (const char *path, uint8_t ** data, size_t *size)
{
  gchar *buf;
  gsize len;
  if (!g_file_get_contents (path, &buf, &len, NULL))
    return false;
  *data = (uint8_t *) buf;
  *size = len;
  return true;
}

bool
wt_write_file (const char *path, const void *data, size_t size)
{
  FILE *f = fopen (path, "wb");
  if (!f)
    return false;
  bool ok = fwrite (data, 1, size, f) == size;
  return fclose (f) == 0 && ok;
}
