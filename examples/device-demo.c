/* device-demo: runs shaders on the compute device and prints which device it used.
 *
 *   device-demo [--backend auto|cpu|vulkan] [--device INDEX|NAME]
 *
 * With DIFFAE_PROFILE=1 it also prints the per-op time table and how long creating the
 * compute pipelines took (the second run is faster: the pipeline cache is on disk). */
#include "core/dae_backend.h"
#include "ops/dae_ops.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail (const char *what, const DaeError * err)
{
  fprintf (stderr, "device-demo: %s: %s\n", what, err->message);
  return 1;
}

int
main (int argc, char **argv)
{
  DaeBackendOptions opts = {.kind = DAE_BACKEND_VULKAN };
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp (argv[i], "--backend") && !dae_backend_kind_parse (argv[i + 1], &opts.kind)) {
      fprintf (stderr, "device-demo: --backend takes auto, cpu or vulkan\n");
      return 2;
    } else if (!strcmp (argv[i], "--device"))
      opts.device = argv[i + 1];
  }
  DaeError err = { 0 };
  DaeBackend *be = NULL;
  DaeStream *s = NULL;
  if (dae_backend_open (&opts, &be, &err) != DAE_OK)
    return fail ("opening the compute device", &err);
  printf ("device: %s\n", dae_backend_description (be));
  if (dae_stream_new (be, &s, &err) != DAE_OK)
    return fail ("creating a stream", &err);

  /* y = x; y += 2x; x = silu(y) on a million values, checked on the host. Run twice: the
   * first run includes the driver's shader compilation, which the caches remove. */
  const int n = 1 << 20;
  float *host = malloc (n * sizeof *host), *out = malloc (n * sizeof *out);
  for (int i = 0; i < n; i++)
    host[i] = (float) (i % 1000) / 500.0f - 1.0f;
  DaeTensor *x = dae_tensor_new (be, 1, 1, 1, n, &err);
  DaeTensor *y = x ? dae_tensor_new (be, 1, 1, 1, n, &err) : NULL;
  if (!y)
    return fail ("allocating tensors", &err);
  double run_ms[2];
  for (int run = 0; run < 2; run++) {
    gint64 t0 = g_get_monotonic_time ();
    dae_tensor_write (s, x, host);
    dae_copy (s, y, x);
    dae_axpy (s, y, x, 2.0f);
    dae_silu_forward (s, x, y);
    if (dae_tensor_read (s, x, out, &err) != DAE_OK)
      return fail ("running the shaders", &err);
    run_ms[run] = (g_get_monotonic_time () - t0) / 1e3;
  }
  double max_err = 0;
  for (int i = 0; i < n; i++) {
    double v = 3.0 * host[i];
    max_err = fmax (max_err, fabs (out[i] - v / (1.0 + exp (-v))));
  }
  printf ("ran copy, axpy and silu on %d values: max error %.3g\n", n, max_err);

  DaeBackendStats st;
  dae_backend_stats (be, &st);
  if (dae_profile_enabled ()) {
    printf ("first run: %.1f ms (includes shader compilation), second run: %.1f ms\n",
        run_ms[0], run_ms[1]);
    if (st.cache_path)
      printf ("pipelines: created %d in %.3f ms; pipeline cache %s: %zu bytes loaded\n",
          st.pipelines_created, st.pipeline_seconds * 1e3, st.cache_path,
          st.cache_loaded_bytes);
    dae_profile_report (stdout);
  }
  dae_tensor_free (x);
  dae_tensor_free (y);
  dae_stream_free (s);
  dae_backend_unref (be);
  free (host);
  free (out);
  return max_err < 1e-5 ? 0 : 1;
}
