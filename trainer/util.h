/* Small helpers shared by the diffae-train sources. */
#ifndef TRAINER_UTIL_H
#define TRAINER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diffae.h"

/* A well-mixed 64-bit value of (a, b, c): seeds for the data order and the split. */
uint64_t tr_hash3 (uint64_t a, uint64_t b, uint64_t c);

/* A splitmix64 stream. */
typedef struct {
  uint64_t state;
} TrRng;

uint64_t tr_rng_next (TrRng * r);
/* Uniform integer in 0..n-1 (n > 0), without modulo bias. */
uint32_t tr_rng_below (TrRng * r, uint32_t n);
/* A permutation of 0..n-1 drawn from r (Fisher-Yates). */
void tr_permutation (TrRng * r, int *perm, int n);

/* "1h02m", "3m05s", "12s" */
char *tr_format_duration (double seconds, char *buf, size_t len);

/* Reads a whole text file (g_free the result); NULL with err set when it cannot. */
char *tr_read_text (const char *path, DaeError * err);
/* Writes text to path atomically (temporary file in the same folder, fsync, rename). */
DaeStatus tr_write_text (const char *path, const char *text, DaeError * err);

/* The config argument as the library takes it: a preset name stays a name; anything else is a
 * JSON file whose contents are returned (g_free). */
char *tr_config_text (const char *arg, DaeError * err);

/* Prints "diffae-train: message" to stderr. */
void tr_print_error (const DaeError * err);

#endif
