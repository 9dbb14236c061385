/* Helpers shared by the weights tests (test_weights.c, test_weights_fuzz.c). */
#ifndef DAE_WEIGHTS_UTIL_H
#define DAE_WEIGHTS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/model_file.h"
#include "io/safetensors.h"

/* A model of a preset with every parameter uniform in [-1, 1) (deterministic in seed) and, when
 * extras, latent statistics and two directions ("smile" with a bias, "age" without). Aborts on
 * failure. */
DaeModelFile *wt_random_model (const char *preset, uint64_t seed, bool extras);

/* Parameters, config and extras all identical (bit for bit). */
bool wt_models_equal (const DaeModelFile * a, const DaeModelFile * b);

/* A new empty folder under $TMPDIR, and its recursive removal. */
char *wt_tmpdir (const char *prefix);
void wt_rmtree (const char *dir);

bool wt_read_file (const char *path, uint8_t ** data, size_t *size);
bool wt_write_file (const char *path, const void *data, size_t size);

#endif
