/* make-data: synthetic data sets for the trainer tests (no network, deterministic).
 *
 *   make-data idx OUT.idx N SIZE CHANNELS [PREFIX]   images; PREFIX.classes.csv (one-hot
 *                                                    quadrant of the blob) and PREFIX.attrs.csv
 *                                                    (bright, big) when PREFIX is given
 *   make-data png DIR N SIZE                         RGB PNGs of other sizes, in subfolders
 *   make-data bad-png DIR                            a folder with one PNG that is not one
 *   make-data bad-idx OUT.idx SIZE                   an IDX file shorter than its header says
 *
 * Image i: a soft blob in one of four quadrants (class i % 4), bright or dim (attribute
 * "bright"), large or small ("big"), on a background of random level, plus mild noise. */
#include "diffae.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int quadrant;
  bool bright, big;
} Factors;

static Factors
factors_of (int i)
{
  float r[2];
  dae_gaussian_noise (99, (uint64_t) i, r, 2);
  return (Factors) { i % 4, r[0] > 0, r[1] > 0 };
}

/* Image i as interleaved 8-bit pixels of `channels` at w x h. */
static void
render (int i, int w, int h, int channels, uint8_t * out)
{
  Factors f = factors_of (i);
  float r[8];
  dae_gaussian_noise (7, (uint64_t) i, r, 8);
  float cx = w * (f.quadrant % 2 ? 0.7f : 0.3f) + 0.6f * r[0];
  float cy = h * (f.quadrant / 2 ? 0.7f : 0.3f) + 0.6f * r[1];
  float radius = (f.big ? 0.22f : 0.12f) * MIN (w, h);
  float level = f.bright ? 230 : 140, bg = 40 + 15 * tanhf (r[2]);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      float d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      float a = expf (-d2 / (2 * radius * radius));
      for (int c = 0; c < channels; c++) {
        float tint = channels == 3 ? 0.7f + 0.3f * tanhf (r[3 + c]) : 1.0f;
        float v = a * level * tint + (1 - a) * bg;
        out[((size_t) y * w + x) * channels + c] = (uint8_t) CLAMP (v + 0.5f, 0.0f, 255.0f);
      }
    }
}

static void
put_be32 (FILE * f, uint32_t v)
{
  uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
  fwrite (b, 1, 4, f);
}

static void
write_csvs (const char *prefix, int n)
{
  char *cp = g_strconcat (prefix, ".classes.csv", NULL), *ap = g_strconcat (prefix, ".attrs.csv", NULL);
  FILE *c = fopen (cp, "w"), *a = fopen (ap, "w");
  fprintf (c, "index,top_left,top_right,bottom_left,bottom_right\n");
  fprintf (a, "index,bright,big\n");
  for (int i = 0; i < n; i++) {
    Factors f = factors_of (i);
    fprintf (c, "%d,%d,%d,%d,%d\n", i, f.quadrant == 0, f.quadrant == 1, f.quadrant == 2,
        f.quadrant == 3);
    fprintf (a, "%d,%d,%s\n", i, f.bright, f.big ? "1" : "-1");
  }
  fclose (c);
  fclose (a);
  g_free (cp);
  g_free (ap);
}

static int
make_idx (const char *path, int n, int size, int channels, const char *prefix)
{
  FILE *f = fopen (path, "wb");
  if (!f)
    return 1;
  uint8_t magic[4] = { 0, 0, 0x08, channels == 1 ? 3 : 4 };
  fwrite (magic, 1, 4, f);
  put_be32 (f, (uint32_t) n);
  put_be32 (f, (uint32_t) size);
  put_be32 (f, (uint32_t) size);
  if (channels != 1)
    put_be32 (f, (uint32_t) channels);
  uint8_t *img = malloc ((size_t) size * size * channels);
  for (int i = 0; i < n; i++) {
    render (i, size, size, channels, img);
    fwrite (img, 1, (size_t) size * size * channels, f);
  }
  free (img);
  fclose (f);
  if (prefix)
    write_csvs (prefix, n);
  return 0;
}

static int
write_png (const char *path, const uint8_t * rgb, int w, int h)
{
  png_image img = {.version = PNG_IMAGE_VERSION,.width = (png_uint_32) w,
    .height = (png_uint_32) h,.format = PNG_FORMAT_RGB
  };
  return png_image_write_to_file (&img, path, 0, rgb, 0, NULL) ? 0 : 1;
}

/* Non-square images larger than the model (centre crop and area resize), in two subfolders. */
static int
make_png (const char *dir, int n, int size)
{
  int status = 0;
  for (int i = 0; i < n && !status; i++) {
    int w = size * 2 + (i % 3) * 4, h = size * 2 + 3;
    char *sub = g_strdup_printf ("%s/part%d", dir, i % 2);
    char *path = g_strdup_printf ("%s/img%04d.png", sub, i);
    g_mkdir_with_parents (sub, 0755);
    uint8_t *rgb = malloc ((size_t) w * h * 3);
    render (i, w, h, 3, rgb);
    status = write_png (path, rgb, w, h);
    free (rgb);
    g_free (sub);
    g_free (path);
  }
  return status;
}

int
main (int argc, char **argv)
{
  if (argc >= 6 && strcmp (argv[1], "idx") == 0)
    return make_idx (argv[2], atoi (argv[3]), atoi (argv[4]), atoi (argv[5]),
        argc > 6 ? argv[6] : NULL);
  if (argc == 5 && strcmp (argv[1], "png") == 0)
    return make_png (argv[2], atoi (argv[3]), atoi (argv[4]));
  if (argc == 3 && strcmp (argv[1], "bad-png") == 0) {
    g_mkdir_with_parents (argv[2], 0755);
    char *good = g_strdup_printf ("%s/a.png", argv[2]), *bad = g_strdup_printf ("%s/b.png", argv[2]);
    uint8_t rgb[16 * 16 * 3];
    render (0, 16, 16, 3, rgb);
    int status = write_png (good, rgb, 16, 16);
    g_file_set_contents (bad, "\x89PNG\r\n\x1a\nnot really a png", -1, NULL);
    g_free (good);
    g_free (bad);
    return status;
  }
  if (argc == 4 && strcmp (argv[1], "bad-idx") == 0) {
    int size = atoi (argv[3]);
    if (make_idx (argv[2], 10, size, 1, NULL) != 0)
      return 1;
    return truncate (argv[2], 16 + 5 * (off_t) size * size) == 0 ? 0 : 1;
  }
  fprintf (stderr, "usage: see the comment at the top of make_data.c\n");
  return 2;
}
