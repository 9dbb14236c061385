/* PNG reading (centre crop to a square, then an area filter to the model size) and writing. */
#ifndef TRAINER_IMAGE_IO_H
#define TRAINER_IMAGE_IO_H

#include <stdint.h>

#include "diffae.h"

/* Reads the PNG at path (grey, grey+alpha, RGB, RGBA, palette; any bit depth) as a size x size
 * image of `channels` (1: BT.601 luma, 3: RGB) 8-bit planes (CHW) into out. Transparent pixels
 * are composited on black. Errors name the file. */
DaeStatus tr_png_load (const char *path, int size, int channels, uint8_t * out, DaeError * err);

/* Centre crop of a width x height interleaved image with `bpp` bytes per pixel to a square of
 * the shorter side, then area (box) resampling to size x size: each output pixel is the mean
 * of the source area it covers, partial pixels weighted by their overlap. out: size*size*bpp. */
void tr_crop_resize (const uint8_t * src, int width, int height, int bpp, int size,
    uint8_t * out);

/* Writes an 8-bit grey (channels 1) or RGB (3) interleaved image. */
DaeStatus tr_png_save (const char *path, const uint8_t * pixels, int width, int height,
    int channels, DaeError * err);

/* A grid of images: rows x cols cells of size x size float CHW images in [-1, 1] (row-major
 * cells; NULL cells stay black), a 1-pixel grey gap between cells. */
DaeStatus tr_grid_save (const char *path, const float *const *cells, int rows, int cols,
    int channels, int size, DaeError * err);

#endif
