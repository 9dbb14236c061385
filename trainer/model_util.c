#include "model_util.h"
#include "image_io.h"

#include <glib.h>
#include <math.h>
#include <string.h>

DaeStatus
tr_encode_set (DaeSession * s, const TrImageSet * set, const int *idx, int n, int batch,
    float *z, DaeError * err)
{
  DaeModelInfo info;
  dae_model_info (dae_session_model (s), &info);
  size_t per = tr_image_set_image_floats (set);
  float *images = g_new0 (float, per * batch), *zb = g_new (float, (size_t) batch * info.z_channels);
  DaeStatus st = DAE_OK;
  for (int first = 0; first < n && st == DAE_OK; first += batch) {
    int count = MIN (batch, n - first);
    for (int i = 0; i < batch; i++)
      tr_image_set_get (set, idx[first + MIN (i, count - 1)], images + per * i);
    st = dae_encode (s, batch, images, zb, 0, NULL, err);
    memcpy (z + (size_t) first * info.z_channels, zb,
        sizeof (float) * count * info.z_channels);
  }
  g_free (images);
  g_free (zb);
  return st;
}

void
tr_latent_stats (const float *z, int n, int zc, float *mean, float *std)
{
  for (int j = 0; j < zc; j++) {
    double s = 0, sq = 0;
    for (int i = 0; i < n; i++)
      s += z[(size_t) i * zc + j];
    double mu = s / n;
    for (int i = 0; i < n; i++) {
      double d = z[(size_t) i * zc + j] - mu;
      sq += d * d;
    }
    mean[j] = (float) mu;
    std[j] = (float) fmax (sqrt (sq / n), 1e-6);
  }
}

float *
tr_random_xt (const DaeModel * m, int n, uint64_t seed)
{
  DaeModelInfo info;
  dae_model_info (m, &info);
  size_t len = (size_t) n * info.channels * info.image_size * info.image_size;
  float *x = g_new (float, len);
  dae_gaussian_noise (seed, 0x7A11, x, len);
  return x;
}

/* The rows of a preview (each n images); rows[3] only with a latent sampler. */
static DaeStatus
preview_rows (DaeSession * s, const float *images, int n, int steps, float **rows,
    int *n_rows, DaeError * err)
{
  DaeModel *m = dae_session_model (s);
  DaeModelInfo info;
  dae_model_info (m, &info);
  size_t len = (size_t) n * info.channels * info.image_size * info.image_size;
  float *z = g_new (float, (size_t) n * info.z_channels), *xt = g_new (float, len);
  float *noise = tr_random_xt (m, n, 0);
  rows[0] = g_memdup2 (images, len * sizeof (float));
  rows[1] = g_new (float, len);
  rows[2] = g_new (float, len);
  *n_rows = 3;
  DaeStatus st = dae_encode (s, n, images, z, steps, xt, err);
  if (st == DAE_OK)
    st = dae_decode (s, n, z, xt, steps, rows[1], err);
  if (st == DAE_OK)
    st = dae_decode (s, n, z, noise, steps, rows[2], err);
  if (st == DAE_OK && info.has_latent_net && info.has_latent_stats) {
    rows[3] = g_new (float, len);
    *n_rows = 4;
    st = dae_sample_z (s, n, steps, 0, z, err);
    if (st == DAE_OK)
      st = dae_decode (s, n, z, noise, steps, rows[3], err);
  }
  g_free (z);
  g_free (xt);
  g_free (noise);
  return st;
}

DaeStatus
tr_preview_write (DaeBackend * be, const char *model_path, const float *images, int n,
    int steps, const char *png, DaeError * err)
{
  DaeModel *m = NULL;
  DaeSession *s = NULL;
  if (dae_model_load (be, model_path, &m, err) != DAE_OK)
    return err->code;
  DaeModelInfo info;
  dae_model_info (m, &info);
  float *rows[4] = { NULL };
  int n_rows = 0;
  DaeStatus st = dae_session_new (m, &s, err);
  if (st == DAE_OK)
    st = preview_rows (s, images, n, steps, rows, &n_rows, err);
  if (st == DAE_OK) {
    size_t per = (size_t) info.channels * info.image_size * info.image_size;
    const float **cells = g_new (const float *, (size_t) n_rows * n);
    for (int r = 0; r < n_rows; r++)
      for (int c = 0; c < n; c++)
        cells[r * n + c] = rows[r] + per * c;
    st = tr_grid_save (png, cells, n_rows, n, info.channels, info.image_size, err);
    g_free (cells);
  }
  for (int r = 0; r < 4; r++)
    g_free (rows[r]);
  dae_session_free (s);
  dae_model_unref (m);
  return st;
}
