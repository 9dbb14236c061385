#include "image_io.h"

#include <glib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

/* For each output index o: source pixels [first[o], first[o] + count[o]) and their weights
 * (the overlap of each source pixel with the output pixel's span, normalised). */
typedef struct {
  int *first, *count;
  float *weight;                /* out * max_taps */
  int max_taps;
} AreaTaps;

static AreaTaps
area_taps (int src, int dst)
{
  AreaTaps t = { calloc ((size_t) dst, sizeof (int)), calloc ((size_t) dst, sizeof (int)),
    NULL, src / dst + 3
  };
  t.weight = calloc ((size_t) dst * t.max_taps, sizeof (float));
  double scale = (double) src / dst;
  for (int o = 0; o < dst; o++) {
    double lo = o * scale, hi = (o + 1) * scale;
    int first = (int) lo, last = MIN ((int) hi + 1, src);
    t.first[o] = first;
    double total = 0;
    for (int i = first; i < last && i - first < t.max_taps; i++) {
      double w = MIN (hi, i + 1.0) - MAX (lo, (double) i);
      if (w <= 0)
        break;
      t.weight[o * t.max_taps + (i - first)] = (float) w;
      t.count[o] = i - first + 1;
      total += w;
    }
    for (int k = 0; k < t.count[o]; k++)
      t.weight[o * t.max_taps + k] /= (float) total;
  }
  return t;
}

static void
area_taps_free (AreaTaps * t)
{
  free (t->first);
  free (t->count);
  free (t->weight);
}

void
tr_crop_resize (const uint8_t * src, int width, int height, int bpp, int size, uint8_t * out)
{
  int side = MIN (width, height), x0 = (width - side) / 2, y0 = (height - side) / 2;
  AreaTaps taps = area_taps (side, size);
  /* Horizontal pass into floats (side rows x size columns), then vertical. */
  float *rows = calloc ((size_t) side * size * bpp, sizeof *rows);
  for (int y = 0; y < side; y++) {
    const uint8_t *line = src + ((size_t) (y0 + y) * width + x0) * bpp;
    for (int o = 0; o < size; o++)
      for (int k = 0; k < taps.count[o]; k++) {
        float w = taps.weight[o * taps.max_taps + k];
        const uint8_t *p = line + (size_t) (taps.first[o] + k) * bpp;
        for (int c = 0; c < bpp; c++)
          rows[((size_t) y * size + o) * bpp + c] += w * p[c];
      }
  }
  for (int o = 0; o < size; o++)
    for (int x = 0; x < size * bpp; x++) {
      float acc = 0;
      for (int k = 0; k < taps.count[o]; k++)
        acc += taps.weight[o * taps.max_taps + k] *
            rows[(size_t) (taps.first[o] + k) * size * bpp + x];
      out[(size_t) o * size * bpp + x] = (uint8_t) CLAMP (acc + 0.5f, 0.0f, 255.0f);
    }
  free (rows);
  area_taps_free (&taps);
}

DaeStatus
tr_png_load (const char *path, int size, int channels, uint8_t * out, DaeError * err)
{
  png_image img = {.version = PNG_IMAGE_VERSION };
  if (!png_image_begin_read_from_file (&img, path))
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: not a readable PNG (%s)", path, img.message);
  if (img.width == 0 || img.height == 0 || img.width > 65536 || img.height > 65536) {
    png_image_free (&img);
    return dae_error_set (err, DAE_ERR_FORMAT, "%s: unsupported size %ux%u", path, img.width,
        img.height);
  }
  img.format = PNG_FORMAT_RGB;
  png_color black = { 0, 0, 0 };
  uint8_t *rgb = malloc (PNG_IMAGE_SIZE (img));
  if (!rgb || !png_image_finish_read (&img, &black, rgb, 0, NULL)) {
    DaeStatus st = dae_error_set (err, DAE_ERR_FORMAT, "%s: not a readable PNG (%s)", path,
        rgb ? img.message : "out of memory");
    png_image_free (&img);
    free (rgb);
    return st;
  }
  uint8_t *small = malloc ((size_t) size * size * 3);
  tr_crop_resize (rgb, (int) img.width, (int) img.height, 3, size, small);
  size_t plane = (size_t) size * size;
  for (size_t i = 0; i < plane; i++) {
    const uint8_t *p = small + 3 * i;
    if (channels == 1)          /* BT.601 luma, as dae_pixels_to_float */
      out[i] = (uint8_t) ((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
    else
      for (int c = 0; c < 3; c++)
        out[c * plane + i] = p[c];
  }
  free (small);
  free (rgb);
  return DAE_OK;
}

DaeStatus
tr_png_save (const char *path, const uint8_t * pixels, int width, int height, int channels,
    DaeError * err)
{
  png_image img = {.version = PNG_IMAGE_VERSION,.width = (png_uint_32) width,
    .height = (png_uint_32) height,.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB
  };
  /* Write next to the target and rename, so a viewer never sees half a file. */
  char *tmp = g_strconcat (path, ".tmp", NULL);
  int ok = png_image_write_to_file (&img, tmp, 0, pixels, 0, NULL);
  if (ok && rename (tmp, path) != 0)
    ok = 0;
  g_free (tmp);
  if (!ok)
    return dae_error_set (err, DAE_ERR_IO, "%s: cannot write the PNG (%s)", path,
        img.message[0] ? img.message : "rename failed");
  return DAE_OK;
}

DaeStatus
tr_grid_save (const char *path, const float *const *cells, int rows, int cols, int channels,
    int size, DaeError * err)
{
  int cell = size + 1, width = cols * cell + 1, height = rows * cell + 1;
  uint8_t *grid = malloc ((size_t) width * height * channels);
  memset (grid, 128, (size_t) width * height * channels);
  uint8_t *one = malloc ((size_t) size * size * channels);
  DaePixelFormat fmt = channels == 1 ? DAE_PIXELS_GRAY8 : DAE_PIXELS_RGB;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      const float *img = cells[r * cols + c];
      if (img)
        dae_float_to_pixels (img, channels, size, fmt, size * channels, one);
      else
        memset (one, 0, (size_t) size * size * channels);
      for (int y = 0; y < size; y++)
        memcpy (grid + ((size_t) (r * cell + 1 + y) * width + c * cell + 1) * channels,
            one + (size_t) y * size * channels, (size_t) size * channels);
    }
  DaeStatus st = tr_png_save (path, grid, width, height, channels, err);
  free (one);
  free (grid);
  return st;
}
