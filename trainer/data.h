/* Training data: a folder of PNGs (searched recursively) or an IDX file (the MNIST format),
 * held in memory as 8-bit planes at the model's size; the held-out split; the data order. */
#ifndef TRAINER_DATA_H
#define TRAINER_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "diffae.h"

typedef struct {
  char *source;                 /* the path given */
  int count, channels, size;
  uint8_t *pixels;              /* count * channels * size * size, CHW per image */
  char **names;                 /* PNG folders: path relative to the folder; IDX: NULL */
} TrImageSet;

/* Loads path: a folder (every *.png below it, sorted by relative path, so the order does not
 * depend on the file system) or an IDX file of unsigned bytes, [n, h, w] (grey) or
 * [n, h, w, c] with c 1 or 3. PNGs are centre-cropped and area-resized to size (image_io.h);
 * IDX images must already be size x size. Grey data feeds an RGB model by repeating the
 * value, RGB data a grey model by BT.601 luma. Errors name the file. */
DaeStatus tr_image_set_load (const char *path, int size, int channels, TrImageSet ** out,
    DaeError * err);
void tr_image_set_free (TrImageSet * set);
/* Image i as floats in [-1, 1] (channels * size * size). */
void tr_image_set_get (const TrImageSet * set, int i, float *chw);
size_t tr_image_set_image_floats (const TrImageSet * set);

/* Which images train and which are held out. */
typedef struct {
  int *train, n_train;
  int *test, n_test;
} TrSplit;

/* The last holdout_percent % (rounded up; at least one image when holdout_percent > 0) of a
 * permutation seeded by split_seed are held out; both lists in increasing index order. The
 * split depends only on (count, holdout_percent, split_seed), not on the training seed, so
 * every subcommand sees the same held-out images. */
void tr_split_make (int count, double holdout_percent, uint64_t split_seed, TrSplit * split);
void tr_split_clear (TrSplit * split);

/* The data order: the pool (e.g. the training indices) shuffled anew in every epoch by a
 * permutation of (seed, epoch), read in consecutive batches. Batch b of step s holds samples
 * s * batch .. s * batch + batch - 1 of the endless sequence of epochs, so a run resumed at
 * step s draws exactly the batches it would have drawn. */
typedef struct {
  const int *pool;              /* NULL: 0..n-1 */
  int n;
  uint64_t seed;
  int64_t epoch;                /* the epoch whose permutation is cached, -1: none */
  int *perm;
} TrSampler;

void tr_sampler_init (TrSampler * s, const int *pool, int n, uint64_t seed);
void tr_sampler_clear (TrSampler * s);
/* The pool entries of the batch of step `step`. */
void tr_sampler_batch (TrSampler * s, int64_t step, int batch, int *out);

#endif
