/* A small test harness for the compute tests: checks that report and continue, random data,
 * error measures, and the list of backends to run on. */
#ifndef DAE_TEST_UTIL_H
#define DAE_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/dae_backend.h"
#include "ops/dae_ops.h"

extern int dae_test_failures;

#define CHECK(cond, ...) \
  do { \
    if (!(cond)) { \
      dae_test_failures++; \
      fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf (stderr, __VA_ARGS__); \
      fprintf (stderr, "\n"); \
    } \
  } while (0)

/* Fails the test (and returns false) when status is not DAE_OK. */
#define CHECK_OK(status, err) \
  dae_test_check_ok ((status), (err), __FILE__, __LINE__)
bool dae_test_check_ok (DaeStatus status, const DaeError * err, const char *file, int line);

/* The backends to test: $DIFFAE_TEST_BACKENDS ("cpu,vulkan" by default). Opens each in turn;
 * returns the number opened into out[] (at most max). A backend that fails to open fails the
 * test. */
int dae_test_open_backends (DaeBackend ** out, int max);

/* Deterministic uniform numbers in [lo, hi). */
typedef struct {
  uint64_t state;
} DaeTestRng;
void dae_test_rng_seed (DaeTestRng * r, uint64_t seed);
float dae_test_uniform (DaeTestRng * r, float lo, float hi);
void dae_test_fill_uniform (DaeTestRng * r, float *x, size_t n, float lo, float hi);

/* max |a-b| / max(max|b|, floor): the error relative to the reference's magnitude. */
double dae_test_max_rel_error (const float *a, const double *ref, size_t n, double floor);
double dae_test_max_rel_error_f (const float *a, const float *ref, size_t n, double floor);

/* A tensor on be filled from host data (NULL: zeros); the test fails when allocation fails. */
DaeTensor *dae_test_tensor (DaeBackend * be, DaeStream * s, int n, int c, int h, int w,
    const float *data);
/* Reads t into a new malloc'd array (aborting the test run on failure). */
float *dae_test_read (DaeStream * s, const DaeTensor * t);

/* Prints "name: N failures" and returns the exit status. */
int dae_test_finish (const char *name);

#endif
