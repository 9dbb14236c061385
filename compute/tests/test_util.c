#include "test_util.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int dae_test_failures;

bool
dae_test_check_ok (DaeStatus status, const DaeError * err, const char *file, int line)
{
  if (status == DAE_OK)
    return true;
  dae_test_failures++;
  fprintf (stderr, "FAIL %s:%d: %s: %s\n", file, line, dae_status_name (status),
      err ? err->message : "");
  return false;
}

int
dae_test_open_backends (DaeBackend ** out, int max)
{
  const char *list = g_getenv ("DIFFAE_TEST_BACKENDS");
  gchar **names = g_strsplit (list && *list ? list : "cpu,vulkan", ",", -1);
  int count = 0;
  for (int i = 0; names[i] && count < max; i++) {
    DaeBackendOptions o = { 0 };
    if (!dae_backend_kind_parse (names[i], &o.kind)) {
      CHECK (false, "unknown backend %s in DIFFAE_TEST_BACKENDS", names[i]);
      continue;
    }
    DaeError err = { 0 };
    if (CHECK_OK (dae_backend_open (&o, &out[count], &err), &err)) {
      fprintf (stderr, "backend: %s\n", dae_backend_description (out[count]));
      count++;
    }
  }
  g_strfreev (names);
  return count;
}

void
dae_test_rng_seed (DaeTestRng * r, uint64_t seed)
{
  r->state = seed * 0x9E3779B97F4A7C15ull + 1;
}

float
dae_test_uniform (DaeTestRng * r, float lo, float hi)
{
  /* splitmix64 */
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return lo + (hi - lo) * (float) ((z >> 40) * (1.0 / 16777216.0));
}

void
dae_test_fill_uniform (DaeTestRng * r, float *x, size_t n, float lo, float hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = dae_test_uniform (r, lo, hi);
}

double
dae_test_max_rel_error (const float *a, const double *ref, size_t n, double floor)
{
  double maxref = floor, maxdiff = 0;
  for (size_t i = 0; i < n; i++) {
    maxref = fmax (maxref, fabs (ref[i]));
    double d = fabs ((double) a[i] - ref[i]);
    if (!(d <= maxdiff))
      maxdiff = isnan (d) ? INFINITY : d;
  }
  return maxdiff / maxref;
}

double
dae_test_max_rel_error_f (const float *a, const float *ref, size_t n, double floor)
{
  double *r = malloc (n * sizeof *r);
  for (size_t i = 0; i < n; i++)
    r[i] = ref[i];
  double e = dae_test_max_rel_error (a, r, n, floor);
  free (r);
  return e;
}

DaeTensor *
dae_test_tensor (DaeBackend * be, DaeStream * s, int n, int c, int h, int w, const float *data)
{
  DaeError err = { 0 };
  DaeTensor *t = dae_tensor_new (be, n, c, h, w, &err);
  if (!t) {
    fprintf (stderr, "FATAL: allocating a %dx%dx%dx%d tensor: %s\n", n, c, h, w, err.message);
    exit (1);
  }
  if (data)
    dae_tensor_write (s, t, data);
  else
    dae_fill (s, t, 0.0f);
  return t;
}

float *
dae_test_read (DaeStream * s, const DaeTensor * t)
{
  float *out = malloc (dae_tensor_numel (t) * sizeof *out);
  DaeError err = { 0 };
  if (dae_tensor_read (s, t, out, &err) != DAE_OK) {
    fprintf (stderr, "FATAL: reading a tensor back: %s\n", err.message);
    exit (1);
  }
  return out;
}

int
dae_test_finish (const char *name)
{
  if (dae_test_failures)
    fprintf (stderr, "%s: %d failures\n", name, dae_test_failures);
  else
    fprintf (stderr, "%s: all checks passed\n", name);
  return dae_test_failures ? 1 : 0;
}
