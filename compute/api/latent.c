/* Host-side latent arithmetic: interpolation, attribute editing, noise, pixel conversion. */
#include "api/model_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double
dot (const float *a, const float *b, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double) a[i] * b[i];
  return s;
}

void
dae_interpolate (const float *z_a, const float *z_b, size_t z_len, const float *x_a,
    const float *x_b, size_t x_len, float alpha, float *z_out, float *x_out)
{
  for (size_t i = 0; i < z_len; i++)
    z_out[i] = (float) ((1.0 - alpha) * z_a[i] + (double) alpha * z_b[i]);
  if (!x_a || !x_b || !x_out)
    return;
  double na = sqrt (dot (x_a, x_a, x_len)), nb = sqrt (dot (x_b, x_b, x_len));
  double c = (na > 0 && nb > 0) ? dot (x_a, x_b, x_len) / (na * nb) : 1.0;
  double theta = acos (fmin (1.0, fmax (-1.0, c)));
  double wa = 1.0 - alpha, wb = alpha;
  /* Parallel (or zero) vectors: sin(theta) vanishes and slerp tends to lerp. */
  if (sin (theta) > 1e-6) {
    wa = sin ((1.0 - alpha) * theta) / sin (theta);
    wb = sin (alpha * theta) / sin (theta);
  }
  for (size_t i = 0; i < x_len; i++)
    x_out[i] = (float) (wa * x_a[i] + wb * x_b[i]);
}

static void
list_attributes (const DaeModel * m, char *buf, size_t len)
{
  buf[0] = '\0';
  for (int i = 0; i < m->n_attributes; i++) {
    if (i)
      g_strlcat (buf, ", ", len);
    g_strlcat (buf, m->attribute_names[i], len);
  }
  if (!m->n_attributes)
    g_strlcpy (buf, "(none)", len);
}

DaeStatus
dae_edit (const DaeModel * m, const float *z, int n_edits, const char *const *names,
    const float *strengths, float *z_out, DaeError * err)
{
  int d = m->cfg.z_channels;
  if (n_edits > 0 && !m->latent_std)
    return dae_error_set (err, DAE_ERR_INVALID,
        "%s has no latent statistics (latent.mean/latent.std): it cannot edit", m->path);
  double *delta = calloc ((size_t) d, sizeof *delta);
  for (int e = 0; e < n_edits; e++) {
    int a = dae_model_find_attribute (m, names[e]);
    if (a < 0) {
      char known[1024];
      list_attributes (m, known, sizeof known);
      free (delta);
      return dae_error_set (err, DAE_ERR_INVALID, "unknown attribute \"%s\" (this model has: %s)",
          names[e], known);
    }
    /* In normalised space the move is strength * sqrt(d) * w/|w|; back in z it is scaled by
     * the per-dimension std. */
    for (int j = 0; j < d; j++)
      delta[j] += strengths[e] * sqrt ((double) d) * m->attribute_units[a][j];
  }
  for (int j = 0; j < d; j++)
    z_out[j] = n_edits > 0 ? (float) (z[j] + delta[j] * m->latent_std[j]) : z[j];
  free (delta);
  return DAE_OK;
}

static uint64_t
splitmix64 (uint64_t x)
{
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Uniform in (0, 1], 53 bits. */
static double
uniform (uint64_t seed, uint64_t stream, uint64_t counter)
{
  uint64_t r = splitmix64 (seed ^ splitmix64 (stream ^ splitmix64 (counter)));
  return ((r >> 11) + 1) * (1.0 / 9007199254740992.0);
}

void
dae_gaussian_noise (uint64_t seed, uint64_t stream, float *out, size_t n)
{
  for (size_t i = 0; i < n; i += 2) {
    /* Box-Muller on a counter-based generator: value i depends only on (seed, stream, i). */
    double u1 = uniform (seed, stream, i), u2 = uniform (seed, stream, i + 1);
    double r = sqrt (-2.0 * log (u1)), a = 2.0 * G_PI * u2;
    out[i] = (float) (r * cos (a));
    if (i + 1 < n)
      out[i + 1] = (float) (r * sin (a));
  }
}

/* ---- pixels ------------------------------------------------------------------------------- */

typedef struct {
  int bytes, r, g, b, a;          /* bytes per pixel and byte index of each channel (-1: none) */
} PixelLayout;

static PixelLayout
layout_of (DaePixelFormat f)
{
  switch (f) {
    case DAE_PIXELS_GRAY8: return (PixelLayout) { 1, 0, 0, 0, -1 };
    case DAE_PIXELS_RGB: return (PixelLayout) { 3, 0, 1, 2, -1 };
    case DAE_PIXELS_BGR: return (PixelLayout) { 3, 2, 1, 0, -1 };
    case DAE_PIXELS_RGBA: return (PixelLayout) { 4, 0, 1, 2, 3 };
    case DAE_PIXELS_BGRA: return (PixelLayout) { 4, 2, 1, 0, 3 };
    case DAE_PIXELS_RGBX: return (PixelLayout) { 4, 0, 1, 2, 3 };
    case DAE_PIXELS_BGRX: return (PixelLayout) { 4, 2, 1, 0, 3 };
  }
  return (PixelLayout) { 1, 0, 0, 0, -1 };
}

void
dae_pixels_to_float (const uint8_t * pixels, DaePixelFormat format, int size, int stride,
    int channels, float *chw)
{
  PixelLayout l = layout_of (format);
  size_t plane = (size_t) size * size;
  for (int y = 0; y < size; y++) {
    const uint8_t *row = pixels + (size_t) y * stride;
    for (int x = 0; x < size; x++) {
      const uint8_t *px = row + (size_t) x * l.bytes;
      float r = px[l.r], g = px[l.g], b = px[l.b];
      size_t i = (size_t) y * size + x;
      if (channels == 1) {
        float luma = format == DAE_PIXELS_GRAY8 ? r : 0.299f * r + 0.587f * g + 0.114f * b;
        chw[i] = luma / 127.5f - 1.0f;
      } else {
        chw[i] = r / 127.5f - 1.0f;
        chw[plane + i] = g / 127.5f - 1.0f;
        chw[2 * plane + i] = b / 127.5f - 1.0f;
      }
    }
  }
}

static uint8_t
to_byte (float v)
{
  float u = (fminf (1.0f, fmaxf (-1.0f, v)) + 1.0f) * 127.5f;
  return (uint8_t) lrintf (u);
}

void
dae_float_to_pixels (const float *chw, int channels, int size, DaePixelFormat format,
    int stride, uint8_t * pixels)
{
  PixelLayout l = layout_of (format);
  size_t plane = (size_t) size * size;
  for (int y = 0; y < size; y++) {
    uint8_t *row = pixels + (size_t) y * stride;
    for (int x = 0; x < size; x++) {
      uint8_t *px = row + (size_t) x * l.bytes;
      size_t i = (size_t) y * size + x;
      uint8_t r = to_byte (chw[i]);
      uint8_t g = channels == 3 ? to_byte (chw[plane + i]) : r;
      uint8_t b = channels == 3 ? to_byte (chw[2 * plane + i]) : r;
      if (format == DAE_PIXELS_GRAY8) {
        px[0] = channels == 3 ? (uint8_t) lrintf (0.299f * r + 0.587f * g + 0.114f * b) : r;
        continue;
      }
      px[l.r] = r;
      px[l.g] = g;
      px[l.b] = b;
      if (l.a >= 0)
        px[l.a] = 255;
    }
  }
}
