/* diffae-image: encode a PNG, edit its attributes or interpolate it with another, decode.
 * Uses only the public header diffae.h (and libpng).
 *
 *   diffae-image MODEL IN.png -o OUT.png [--steps N] [--edit NAME=STRENGTH]...
 *   diffae-image MODEL IN.png --interpolate OTHER.png --frames K -o OUT.png
 *
 * The image must have the model's size (e.g. 32x32); RGB, RGBA and grey PNGs are accepted.
 * Without --edit or --interpolate the image is reconstructed. With --frames, OUT.png is a
 * strip of K images from IN (alpha 0) to OTHER (alpha 1). */
#include "diffae.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EDITS 16

typedef struct {
  const char *model, *in, *other, *out;
  int steps, frames, n_edits;
  const char *names[MAX_EDITS];
  float strengths[MAX_EDITS];
} Args;

/* Reads a PNG of exactly size x size pixels into float CHW planes. */
static int
read_png (const char *path, int size, int channels, float *chw)
{
  png_image img = {.version = PNG_IMAGE_VERSION };
  if (!png_image_begin_read_from_file (&img, path)) {
    fprintf (stderr, "diffae-image: %s: %s\n", path, img.message);
    return -1;
  }
  if ((int) img.width != size || (int) img.height != size) {
    fprintf (stderr, "diffae-image: %s is %ux%u; the model takes %dx%d images\n", path,
        img.width, img.height, size, size);
    png_image_free (&img);
    return -1;
  }
  img.format = PNG_FORMAT_RGB;
  uint8_t *pixels = malloc (PNG_IMAGE_SIZE (img));
  if (!png_image_finish_read (&img, NULL, pixels, 0, NULL)) {
    fprintf (stderr, "diffae-image: %s: %s\n", path, img.message);
    free (pixels);
    return -1;
  }
  dae_pixels_to_float (pixels, DAE_PIXELS_RGB, size, 3 * size, channels, chw);
  free (pixels);
  return 0;
}

/* Writes n images side by side. */
static int
write_png (const char *path, const float *chw, int n, int size, int channels)
{
  int width = n * size;
  uint8_t *strip = malloc ((size_t) 3 * width * size), *one = malloc ((size_t) 3 * size * size);
  for (int i = 0; i < n; i++) {
    dae_float_to_pixels (chw + (size_t) i * channels * size * size, channels, size,
        DAE_PIXELS_RGB, 3 * size, one);
    for (int y = 0; y < size; y++)
      memcpy (strip + ((size_t) y * width + (size_t) i * size) * 3, one + (size_t) y * size * 3,
          (size_t) size * 3);
  }
  png_image img = {.version = PNG_IMAGE_VERSION,.width = (png_uint_32) width,
    .height = (png_uint_32) size,.format = PNG_FORMAT_RGB
  };
  int ok = png_image_write_to_file (&img, path, 0, strip, 0, NULL);
  if (!ok)
    fprintf (stderr, "diffae-image: writing %s: %s\n", path, img.message);
  free (strip);
  free (one);
  return ok ? 0 : -1;
}

static int
usage (void)
{
  fprintf (stderr, "usage: diffae-image MODEL IN.png -o OUT.png [--steps N] "
      "[--edit NAME=STRENGTH]... [--interpolate OTHER.png --frames K]\n");
  return 2;
}

static int
parse_edit (Args * a, const char *spec)
{
  const char *eq = strchr (spec, '=');
  if (!eq || a->n_edits == MAX_EDITS)
    return -1;
  a->names[a->n_edits] = strndup (spec, (size_t) (eq - spec));
  a->strengths[a->n_edits++] = strtof (eq + 1, NULL);
  return 0;
}

static int
parse_args (int argc, char **argv, Args * a)
{
  *a = (Args) {.steps = 50,.frames = 5 };
  if (argc < 3)
    return -1;
  a->model = argv[1];
  a->in = argv[2];
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!strcmp (argv[i], "-o"))
      a->out = argv[i + 1];
    else if (!strcmp (argv[i], "--steps"))
      a->steps = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--frames"))
      a->frames = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--interpolate"))
      a->other = argv[i + 1];
    else if (strcmp (argv[i], "--edit") || parse_edit (a, argv[i + 1]))
      return -1;
  }
  return a->out && a->frames >= 2 ? 0 : -1;
}

static int
fail (const DaeError * err)
{
  fprintf (stderr, "diffae-image: %s\n", err->message);
  return 1;
}

int
main (int argc, char **argv)
{
  Args a;
  if (parse_args (argc, argv, &a))
    return usage ();
  DaeBackend *be = NULL;
  DaeModel *m = NULL;
  DaeSession *s = NULL;
  DaeError err = { 0 };
  DaeBackendOptions bo = {.kind = DAE_BACKEND_AUTO };
  if (dae_backend_open (&bo, &be, &err) || dae_model_load (be, a.model, &m, &err) ||
      dae_session_new (m, &s, &err))
    return fail (&err);
  DaeModelInfo info;
  dae_model_info (m, &info);
  size_t img = (size_t) info.channels * info.image_size * info.image_size;
  size_t zl = (size_t) info.z_channels;
  int count = a.other ? 2 : 1, frames = a.other ? a.frames : 1;
  float *x = malloc (2 * img * 4), *xT = malloc (2 * img * 4), *z = malloc (2 * zl * 4);
  float *zs = malloc (frames * zl * 4), *xs = malloc (frames * img * 4);
  float *out = malloc (frames * img * 4);
  if (read_png (a.in, info.image_size, info.channels, x) ||
      (a.other && read_png (a.other, info.image_size, info.channels, x + img)))
    return 1;
  /* The stochastic code x_T by inversion: decoding it back reproduces the image's details. */
  if (dae_encode (s, count, x, z, a.steps, xT, &err))
    return fail (&err);
  for (int f = 0; f < frames; f++) {
    float alpha = frames > 1 ? (float) f / (frames - 1) : 0.0f;
    if (a.other)
      dae_interpolate (z, z + zl, zl, xT, xT + img, img, alpha, zs + f * zl, xs + f * img);
    else {
      memcpy (xs, xT, img * 4);
      if (dae_edit (m, z, a.n_edits, a.names, a.strengths, zs, &err))
        return fail (&err);
    }
  }
  if (dae_decode (s, frames, zs, xs, a.steps, out, &err))
    return fail (&err);
  int status = write_png (a.out, out, frames, info.image_size, info.channels) ? 1 : 0;
  printf ("%s: %d image%s on %s\n", a.out, frames, frames > 1 ? "s" : "",
      dae_backend_description (be));
  dae_session_free (s);
  dae_model_unref (m);
  dae_backend_unref (be);
  free (x);
  free (xT);
  free (z);
  free (zs);
  free (xs);
  free (out);
  return status;
}
