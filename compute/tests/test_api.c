/* Properties of the diffusion API (diffae.h) on a tiny trained model, on every backend:
 *  - decode(invert(x)) reproduces x far better than a decode from random x_T;
 *  - interpolation at alpha 0 and 1 returns the end points; parallel x_T do not break slerp;
 *  - an edit of strength 0 is the identity, a non-zero edit moves along std * direction;
 *  - the same inputs and seed give bit-identical results twice;
 *  - bad requests (unknown attribute, unspaceable step count, batch 0) are clear errors.
 *
 *   test_api MODEL.safetensors   (made by make-tiny-model) */
#include "test_util.h"
#include "diffae.h"
#include "io/model_file.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 8

static double
mse (const float *a, const float *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
  return s / n;
}

/* Smooth test images unlike the training ones: two-colour horizontal gradients. */
static void
test_images (float *x, int size)
{
  for (int i = 0; i < N; i++)
    for (int c = 0; c < 3; c++)
      for (int p = 0; p < size * size; p++) {
        float t = (float) (p % size) / (size - 1);
        float a = 0.6f * sinf (1.3f * i + c), b = 0.6f * cosf (0.7f * i + 2 * c);
        x[((size_t) i * 3 + c) * size * size + p] = (1 - t) * a + t * b;
      }
}

static void
check_reconstruction (DaeSession * s, const DaeModelInfo * info, const char *bn)
{
  size_t img = (size_t) N * info->channels * info->image_size * info->image_size;
  float *x = malloc (img * 4), *xT = malloc (img * 4), *rec = malloc (img * 4);
  float *noise = malloc (img * 4), *z = malloc ((size_t) N * info->z_channels * 4);
  test_images (x, info->image_size);
  DaeError err = { 0 };
  if (CHECK_OK (dae_encode (s, N, x, z, 20, xT, &err), &err) &&
      CHECK_OK (dae_decode (s, N, z, xT, 20, rec, &err), &err)) {
    double inverted = mse (x, rec, img);
    dae_gaussian_noise (3, 0, noise, img);
    CHECK_OK (dae_decode (s, N, z, noise, 20, rec, &err), &err);
    double random = mse (x, rec, img);
    fprintf (stderr, "  %-8s reconstruction MSE at N=20: inverted x_T %.5f, random x_T %.5f\n",
        bn, inverted, random);
    CHECK (inverted < 0.2 * random, "inverted x_T (%g) is not far better than random (%g)",
        inverted, random);
  }
  free (x);
  free (xT);
  free (rec);
  free (noise);
  free (z);
}

static void
check_determinism (DaeSession * s, const DaeModelInfo * info, const char *bn)
{
  size_t img = (size_t) 2 * info->channels * info->image_size * info->image_size;
  size_t zl = (size_t) 2 * info->z_channels;
  float *z1 = malloc (zl * 4), *z2 = malloc (zl * 4), *xT = malloc (img * 4);
  float *a = malloc (img * 4), *b = malloc (img * 4);
  DaeError err = { 0 };
  CHECK_OK (dae_sample_z (s, 2, 10, 42, z1, &err), &err);
  CHECK_OK (dae_sample_z (s, 2, 10, 42, z2, &err), &err);
  CHECK (memcmp (z1, z2, zl * 4) == 0, "%s: latent sampling with one seed differs", bn);
  CHECK_OK (dae_sample_z (s, 2, 10, 43, z2, &err), &err);
  CHECK (memcmp (z1, z2, zl * 4) != 0, "%s: two seeds gave the same z", bn);
  dae_gaussian_noise (5, 0, xT, img);
  CHECK_OK (dae_decode (s, 2, z1, xT, 10, a, &err), &err);
  CHECK_OK (dae_decode (s, 2, z1, xT, 10, b, &err), &err);
  CHECK (memcmp (a, b, img * 4) == 0, "%s: the same decode twice differs", bn);
  free (z1);
  free (z2);
  free (xT);
  free (a);
  free (b);
}

static void
check_errors (DaeSession * s, const DaeModel * m, const DaeModelInfo * info)
{
  DaeError err = { 0 };
  float z[64] = { 0 }, x[3 * 16 * 16] = { 0 };
  CHECK (dae_decode (s, 1, z, x, 999, x, &err) == DAE_ERR_INVALID &&
      strstr (err.message, "999 steps"), "999 steps: %s", err.message);
  dae_error_clear (&err);
  CHECK (dae_decode (s, 0, z, x, 10, x, &err) == DAE_ERR_INVALID, "batch 0 accepted");
  dae_error_clear (&err);
  const char *names[] = { "no-such-thing" };
  float strength = 0.1f;
  CHECK (dae_edit (m, z, 1, names, &strength, z, &err) == DAE_ERR_INVALID &&
      strstr (err.message, "bright") && strstr (err.message, "round"),
      "unknown attribute: %s", err.message);
  (void) info;
}

/* Host-only maths, independent of the backend. */
static void
check_latent_maths (const DaeModel * m, const DaeModelInfo * info)
{
  int zc = info->z_channels;
  size_t xl = 3 * 16 * 16;
  float za[64], zb[64], zo[64], xa[768], xb[768], xo[768];
  dae_gaussian_noise (1, 0, za, zc);
  dae_gaussian_noise (1, 1, zb, zc);
  dae_gaussian_noise (1, 2, xa, xl);
  dae_gaussian_noise (1, 3, xb, xl);
  dae_interpolate (za, zb, zc, xa, xb, xl, 0.0f, zo, xo);
  CHECK (!memcmp (zo, za, zc * 4) && !memcmp (xo, xa, xl * 4), "alpha 0 is not the first end");
  dae_interpolate (za, zb, zc, xa, xb, xl, 1.0f, zo, xo);
  CHECK (!memcmp (zo, zb, zc * 4) && mse (xo, xb, xl) < 1e-12, "alpha 1 is not the second end");
  /* Slerp keeps the norm of equal-norm unit-variance noise, unlike lerp. */
  dae_interpolate (za, zb, zc, xa, xb, xl, 0.5f, zo, xo);
  double na = sqrt (mse (xa, (float[768]) { 0 }, xl)), nm = sqrt (mse (xo, (float[768]) { 0 },
          xl));
  CHECK (fabs (nm / na - 1.0) < 0.1, "slerp midpoint norm ratio %g", nm / na);
  /* Parallel vectors: theta = 0, no division by zero. */
  for (size_t i = 0; i < xl; i++)
    xb[i] = 2.0f * xa[i];
  dae_interpolate (za, zb, zc, xa, xb, xl, 0.25f, zo, xo);
  bool finite = true;
  for (size_t i = 0; i < xl; i++)
    finite &= isfinite (xo[i]) && fabsf (xo[i] - 1.25f * xa[i]) < 1e-5f * (1 + fabsf (xa[i]));
  CHECK (finite, "parallel x_T: slerp did not fall back to lerp");

  const char *names[] = { "bright" };
  float zero = 0.0f, one = 0.5f;
  DaeError err = { 0 };
  CHECK_OK (dae_edit (m, za, 1, names, &zero, zo, &err), &err);
  CHECK (!memcmp (zo, za, zc * 4), "an edit of strength 0 changed z_sem");
  CHECK_OK (dae_edit (m, za, 1, names, &one, zo, &err), &err);
  double moved = sqrt (mse (zo, za, zc) * zc);
  CHECK (moved > 0.0, "an edit of strength 0.5 did not move z_sem");
}

/* The move of an edit, in normalised space, is strength * sqrt(d) along the stored direction. */
static void
check_edit_direction (const char *path, const DaeModel * m, const DaeModelInfo * info)
{
  int zc = info->z_channels;
  DaeModelFile *mf = NULL;
  DaeError err = { 0 };
  if (!CHECK_OK (dae_model_file_load (path, &mf, &err), &err))
    return;
  const DaeDirection *dir = dae_model_file_direction (mf, "round");
  float z[64], zo[64];
  dae_gaussian_noise (9, 0, z, zc);
  const char *names[] = { "round" };
  float strength = 0.3f;
  CHECK_OK (dae_edit (m, z, 1, names, &strength, zo, &err), &err);
  double wn = 0, dn = 0, dot = 0;
  for (int j = 0; j < zc; j++) {
    double d = ((double) zo[j] - z[j]) / mf->latent_std[j];
    wn += (double) dir->weight[j] * dir->weight[j];
    dn += d * d;
    dot += d * dir->weight[j];
  }
  double cosine = dot / sqrt (wn * dn), length = sqrt (dn);
  CHECK (cosine > 0.9999, "the edit is not along the direction (cos %g)", cosine);
  CHECK (fabs (length - strength * sqrt (zc)) < 1e-3 * length,
      "the edit moved %g in normalised space, expected %g", length, strength * sqrt (zc));
  dae_model_file_free (mf);
}

/* Two threads, one session each, decoding with the same model at once, must each get the
 * result a single thread gets. */
typedef struct {
  DaeModel *m;
  const float *z, *xT;
  float *out;
  DaeStatus status;
} ThreadJob;

static gpointer
decode_thread (gpointer data)
{
  ThreadJob *j = data;
  DaeSession *s = NULL;
  DaeError err = { 0 };
  j->status = dae_session_new (j->m, &s, &err);
  for (int rep = 0; rep < 3 && j->status == DAE_OK; rep++)
    j->status = dae_decode (s, 2, j->z, j->xT, 10, j->out, &err);
  if (j->status)
    fprintf (stderr, "decode thread: %s\n", err.message);
  dae_session_free (s);
  return NULL;
}

static void
check_threads (DaeSession * s, DaeModel * m, const DaeModelInfo * info, const char *bn)
{
  size_t img = (size_t) 2 * info->channels * info->image_size * info->image_size;
  size_t zl = (size_t) 2 * info->z_channels;
  float *z = malloc (2 * zl * 4), *xT = malloc (2 * img * 4), *want = malloc (2 * img * 4);
  float *got = malloc (2 * img * 4);
  dae_gaussian_noise (21, 0, z, 2 * zl);
  dae_gaussian_noise (21, 1, xT, 2 * img);
  DaeError err = { 0 };
  for (int k = 0; k < 2; k++)
    CHECK_OK (dae_decode (s, 2, z + k * zl, xT + k * img, 10, want + k * img, &err), &err);
  ThreadJob jobs[2];
  GThread *threads[2];
  for (int k = 0; k < 2; k++) {
    jobs[k] = (ThreadJob) { m, z + k * zl, xT + k * img, got + k * img, DAE_OK };
    threads[k] = g_thread_new ("decode", decode_thread, &jobs[k]);
  }
  for (int k = 0; k < 2; k++) {
    g_thread_join (threads[k]);
    CHECK (jobs[k].status == DAE_OK, "%s: decode thread %d failed", bn, k);
  }
  CHECK (memcmp (want, got, 2 * img * 4) == 0,
      "%s: two threads sharing the model did not reproduce the single-thread result", bn);
  free (z);
  free (xT);
  free (want);
  free (got);
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: test_api MODEL.safetensors\n");
    return 2;
  }
  DaeBackend *bes[4];
  int nb = dae_test_open_backends (bes, 4);
  for (int i = 0; i < nb; i++) {
    const char *bn = dae_backend_kind_name (dae_backend_kind (bes[i]));
    DaeModel *m = NULL;
    DaeSession *s = NULL;
    DaeError err = { 0 };
    if (CHECK_OK (dae_model_load (bes[i], argv[1], &m, &err), &err) &&
        CHECK_OK (dae_session_new (m, &s, &err), &err)) {
      DaeModelInfo info;
      dae_model_info (m, &info);
      check_reconstruction (s, &info, bn);
      check_determinism (s, &info, bn);
      check_errors (s, m, &info);
      check_threads (s, m, &info, bn);
      if (i == 0) {
        check_latent_maths (m, &info);
        check_edit_direction (argv[1], m, &info);
      }
    }
    dae_session_free (s);
    dae_model_unref (m);
    dae_backend_unref (bes[i]);
  }
  return dae_test_finish ("test_api");
}
