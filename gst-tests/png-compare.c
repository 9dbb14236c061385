/* png-compare: mean squared difference of two PNG images, in [-1, 1] units over RGB.
 *
 *   png-compare A.png B.png     prints "MSE WIDTH HEIGHT" (exit 1 when the sizes differ)
 *
 * A helper of test-examples.sh. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned char *
read_rgb (const char *path, unsigned *w, unsigned *h)
{
  png_image img = { 0 };
  unsigned char *px;

  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file (&img, path)) {
    fprintf (stderr, "png-compare: %s: %s\n", path, img.message);
    exit (2);
  }
  img.format = PNG_FORMAT_RGB;
  px = malloc (PNG_IMAGE_SIZE (img));
  if (!png_image_finish_read (&img, NULL, px, 0, NULL)) {
    fprintf (stderr, "png-compare: %s: %s\n", path, img.message);
    exit (2);
  }
  *w = img.width;
  *h = img.height;
  return px;
}

int
main (int argc, char **argv)
{
  unsigned wa, ha, wb, hb;
  unsigned char *a, *b;
  double s = 0;
  size_t i, n;

  if (argc != 3) {
    fprintf (stderr, "usage: png-compare A.png B.png\n");
    return 2;
  }
  a = read_rgb (argv[1], &wa, &ha);
  b = read_rgb (argv[2], &wb, &hb);
  if (wa != wb || ha != hb) {
    printf ("size %ux%u != %ux%u\n", wa, ha, wb, hb);
    return 1;
  }
  n = wa;
  n = n * ha * 3;
  for (i = 0; i < n; i++) {
    double d = (a[i] - (double) b[i]) / 127.5;
    s += d * d;
  }
  printf ("%.6f %u %u\n", s / n, wa, ha);
  free (a);
  free (b);
  return 0;
}
