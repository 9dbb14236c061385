/* Running a trained model on data sets: batched encoding and decoding through a DaeSession,
 * and the preview grids written during training. */
#ifndef TRAINER_MODEL_UTIL_H
#define TRAINER_MODEL_UTIL_H

#include "data.h"

/* z_sem of images idx[0..n) of set (n * z floats), in calls of `batch` images (the last one
 * padded, so the session keeps one batch size). */
DaeStatus tr_encode_set (DaeSession * s, const TrImageSet * set, const int *idx, int n,
    int batch, float *z, DaeError * err);

/* Per-dimension mean and std of n z vectors (std floored at 1e-6: the model file needs
 * std > 0). */
void tr_latent_stats (const float *z, int n, int zc, float *mean, float *std);

/* n standard-normal x_T images of the model, deterministic in seed (the same for every call,
 * so successive preview grids differ only by the weights). */
float *tr_random_xt (const DaeModel * m, int n, uint64_t seed);

/* Preview grid of a model file: inputs; reconstructions from the inverted x_T; decodes of
 * z_sem from random x_T; and, when the model can sample z_sem (latent net and statistics),
 * unconditional samples. All with `steps` DDIM steps. */
DaeStatus tr_preview_write (DaeBackend * be, const char *model_path, const float *images,
    int n, int steps, const char *png, DaeError * err);

#endif
