/* Nearest training image of each query image (by MSE on the [0, 1] scale, as tr_mse): the
 * check that generated samples are not copies of the training set. */
#ifndef TRAINER_NEAREST_H
#define TRAINER_NEAREST_H

#include "data.h"

/* For each of the n_queries images in queries (floats in [-1, 1], CHW at the set's size),
 * the index (into set) of its nearest image among set's images pool[0..n_pool) and that MSE.
 * A query equal to a pool image has MSE 0. */
void tr_nearest (const TrImageSet * set, const int *pool, int n_pool, const float *queries,
    int n_queries, int *best, double *best_mse);

#endif
