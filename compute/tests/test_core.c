/* The compute core: transfers, recording, views, sticky errors and the failure paths of the
 * Vulkan backend (missing loader or device, out of memory, lost device, no compute queue).
 *
 * Usage: test_core [mode], mode one of: (none), no-loader, bad-device, fault-oom,
 * fault-device-lost, fault-no-compute-queue. The fault modes expect DIFFAE_FAULT to be set. */
#include "test_util.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bit patterns that a lossy path (a conversion, a denormal flush) would change. */
static void
fill_tricky (DaeTestRng * r, float *x, size_t n)
{
  dae_test_fill_uniform (r, x, n, -1e3f, 1e3f);
  uint32_t specials[] = { 0x00000001u, 0x80000001u, 0x007fffffu, 0x7f7fffffu, 0x80000000u };
  for (size_t i = 0; i < n && i < G_N_ELEMENTS (specials); i++)
    memcpy (&x[i * 7 % n], &specials[i], 4);
}

static void
test_round_trip (DaeBackend * be, DaeStream * s)
{
  size_t sizes[] = { 1, 1000, 65536 / 4 + 7, 1 << 20 };
  DaeTestRng r;
  dae_test_rng_seed (&r, 1);
  for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++) {
    size_t n = sizes[k];
    float *src = malloc (n * 4);
    fill_tricky (&r, src, n);
    DaeTensor *a = dae_test_tensor (be, s, 1, 1, 1, (int) n, src);
    DaeTensor *b = dae_test_tensor (be, s, 1, 1, 1, (int) n, NULL);
    dae_copy (s, b, a);         /* through a shader on Vulkan */
    float *back_a = dae_test_read (s, a), *back_b = dae_test_read (s, b);
    CHECK (memcmp (back_a, src, n * 4) == 0, "write/read of %zu floats is not exact", n);
    CHECK (memcmp (back_b, src, n * 4) == 0, "copy of %zu floats is not exact", n);
    /* A second write while the first copy's recording is pending: ordering must hold. */
    for (size_t i = 0; i < n; i++)
      src[i] = -src[i];
    dae_tensor_write (s, a, src);
    dae_copy (s, b, a);
    free (back_b);
    back_b = dae_test_read (s, b);
    CHECK (memcmp (back_b, src, n * 4) == 0, "rewrite of %zu floats is not ordered", n);
    free (back_a);
    free (back_b);
    free (src);
    dae_tensor_free (a);
    dae_tensor_free (b);
  }
}

/* Concatenation by copying into channel views, and axpy on views of a batch > 1. */
static void
test_views (DaeBackend * be, DaeStream * s)
{
  const int N = 3, C1 = 5, C2 = 2, H = 3, W = 7, HW = H * W;
  DaeTestRng r;
  dae_test_rng_seed (&r, 2);
  float *x1 = malloc (N * C1 * HW * 4), *x2 = malloc (N * C2 * HW * 4);
  dae_test_fill_uniform (&r, x1, N * C1 * HW, -1, 1);
  dae_test_fill_uniform (&r, x2, N * C2 * HW, -1, 1);
  DaeTensor *a = dae_test_tensor (be, s, N, C1, H, W, x1);
  DaeTensor *b = dae_test_tensor (be, s, N, C2, H, W, x2);
  DaeTensor *cat = dae_test_tensor (be, s, N, C1 + C2, H, W, NULL);
  DaeTensor va = dae_tensor_view_channels (cat, 0, C1), vb = dae_tensor_view_channels (cat, C1,
      C2);
  dae_copy (s, &va, a);
  dae_copy (s, &vb, b);
  dae_axpy (s, &vb, b, 2.0f);   /* vb = 3 * x2 */
  float *out = dae_test_read (s, cat);
  int bad = 0;
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C1 + C2; c++)
      for (int i = 0; i < HW; i++) {
        float got = out[(n * (C1 + C2) + c) * HW + i];
        float want = c < C1 ? x1[(n * C1 + c) * HW + i] : 3.0f * x2[(n * C2 + c - C1) * HW + i];
        bad += fabsf (got - want) > 1e-6f * fmaxf (1.0f, fabsf (want));
      }
  CHECK (bad == 0, "%d elements wrong after concatenation through views", bad);
  /* A sample view: fill sample 1 only. */
  DaeTensor s1 = dae_tensor_view_samples (cat, 1, 1);
  dae_fill (s, &s1, 7.0f);
  free (out);
  out = dae_test_read (s, cat);
  size_t per = (size_t) (C1 + C2) * HW;
  CHECK (out[0] == x1[0] && out[per] == 7.0f && out[2 * per - 1] == 7.0f &&
      out[2 * per] == x1[2 * C1 * HW], "sample view fill touched the wrong samples");
  free (out);
  free (x1);
  free (x2);
  dae_tensor_free (a);
  dae_tensor_free (b);
  dae_tensor_free (cat);
}

/* Thousands of dependent dispatches in one recording (descriptor pools grow, barriers hold). */
static void
test_long_recording (DaeBackend * be, DaeStream * s)
{
  const int steps = 3000;
  DaeTensor *acc = dae_test_tensor (be, s, 1, 1, 1, 333, NULL);
  DaeTensor *one = dae_test_tensor (be, s, 1, 1, 1, 333, NULL);
  dae_fill (s, one, 1.0f);
  for (int i = 0; i < steps; i++)
    dae_axpy (s, acc, one, 1.0f);
  float *out = dae_test_read (s, acc);
  CHECK (out[0] == steps && out[332] == steps, "after %d axpys got %g", steps, out[0]);
  free (out);
  dae_tensor_free (acc);
  dae_tensor_free (one);
}

/* Tensors larger than one storage-buffer binding (128 MiB on lavapipe), such as the flat
 * parameters of a large model, still fill, copy and accumulate. */
static void
test_larger_than_a_binding (DaeBackend * be, DaeStream * s)
{
  const int n = 36 << 20;       /* 144 MiB */
  DaeTensor *a = dae_test_tensor (be, s, 1, 1, 1, n, NULL);
  DaeTensor *b = dae_test_tensor (be, s, 1, 1, 1, n, NULL);
  dae_fill (s, a, 2.0f);
  dae_copy (s, b, a);
  dae_axpy (s, b, a, 0.5f);
  float *out = dae_test_read (s, b);
  CHECK (out[0] == 3.0f && out[n / 2] == 3.0f && out[n - 1] == 3.0f,
      "elementwise ops on %d floats: %g %g %g", n, out[0], out[n / 2], out[n - 1]);
  free (out);
  dae_tensor_free (a);
  dae_tensor_free (b);
}

static void
test_sticky_error (DaeBackend * be, DaeStream * s)
{
  DaeTensor *a = dae_test_tensor (be, s, 1, 2, 3, 4, NULL);
  DaeTensor *b = dae_test_tensor (be, s, 1, 2, 3, 5, NULL);
  dae_copy (s, a, b);
  dae_fill (s, a, 1.0f);        /* skipped: the stream already failed */
  DaeError err = { 0 };
  DaeStatus st = dae_stream_sync (s, &err);
  CHECK (st == DAE_ERR_INVALID, "shape mismatch gave status %d", st);
  CHECK (strstr (err.message, "copy") && strstr (err.message, "1x2x3x4"),
      "unhelpful message: %s", err.message);
  CHECK (dae_stream_sync (s, NULL) == DAE_OK, "the error was not cleared by the sync");
  float v[24];
  CHECK_OK (dae_tensor_read (s, a, v, &err), &err);
  CHECK (v[0] == 0.0f, "an op after the failure ran");
  dae_tensor_free (a);
  dae_tensor_free (b);
}

static void
test_too_large (DaeBackend * be)
{
  DaeError err = { 0 };
  /* 2^40 floats = 4 TiB: more than any heap here. */
  DaeTensor *t = dae_tensor_new (be, 1 << 10, 1 << 10, 1 << 10, 1 << 10, &err);
  CHECK (t == NULL && err.code == DAE_ERR_OUT_OF_MEMORY, "4 TiB tensor: code %d", err.code);
  CHECK (strstr (err.message, "4398046511104"), "the size asked is not in: %s", err.message);
  dae_tensor_free (t);
}

static int
run_default (void)
{
  DaeBackend *bes[4];
  int n = dae_test_open_backends (bes, 4);
  for (int i = 0; i < n; i++) {
    DaeStream *s = NULL;
    DaeError err = { 0 };
    if (!CHECK_OK (dae_stream_new (bes[i], &s, &err), &err))
      continue;
    test_round_trip (bes[i], s);
    test_views (bes[i], s);
    test_long_recording (bes[i], s);
    test_larger_than_a_binding (bes[i], s);
    test_sticky_error (bes[i], s);
    test_too_large (bes[i]);
    CHECK_OK (dae_stream_sync (s, &err), &err);
    dae_stream_free (s);
    dae_backend_unref (bes[i]);
  }
  return dae_test_finish ("test_core");
}

static DaeBackend *
open_vulkan (DaeError * err)
{
  DaeBackendOptions o = {.kind = DAE_BACKEND_VULKAN };
  DaeBackend *be = NULL;
  dae_backend_open (&o, &be, err);
  return be;
}

static int
run_no_loader (void)
{
  DaeError err = { 0 };
  DaeBackend *be = open_vulkan (&err);
  CHECK (!be && err.code == DAE_ERR_NO_DEVICE, "opened without a loader (code %d)", err.code);
  CHECK (strstr (err.message, "no Vulkan device found; install mesa-vulkan-drivers"),
      "message: %s", err.message);
  /* auto falls back to the CPU backend. */
  DaeBackendOptions o = {.kind = DAE_BACKEND_AUTO };
  DaeError err2 = { 0 };
  CHECK_OK (dae_backend_open (&o, &be, &err2), &err2);
  CHECK (be && dae_backend_kind (be) == DAE_BACKEND_CPU, "auto did not fall back to the cpu");
  dae_backend_unref (be);
  return dae_test_finish ("test_core no-loader");
}

static int
run_bad_device (void)
{
  g_setenv ("DIFFAE_DEVICE", "no-such-device-xyz", TRUE);
  DaeError err = { 0 };
  DaeBackend *be = open_vulkan (&err);
  CHECK (!be && err.code == DAE_ERR_NO_DEVICE, "code %d", err.code);
  CHECK (strstr (err.message, "no-such-device-xyz"), "message: %s", err.message);
  g_setenv ("DIFFAE_DEVICE", "99", TRUE);
  dae_error_clear (&err);
  be = open_vulkan (&err);
  CHECK (!be && err.code == DAE_ERR_NO_DEVICE, "index 99: code %d", err.code);
  return dae_test_finish ("test_core bad-device");
}

static int
run_fault_oom (void)
{
  DaeError err = { 0 };
  DaeBackend *be = open_vulkan (&err);
  if (!CHECK_OK (err.code, &err))
    return dae_test_finish ("test_core fault-oom");
  DaeTensor *t = dae_tensor_new (be, 1, 1, 1024, 1024, &err);
  CHECK (!t && err.code == DAE_ERR_OUT_OF_MEMORY, "code %d", err.code);
  CHECK (strstr (err.message, "out of device memory") && strstr (err.message, "bytes"),
      "message: %s", err.message);
  /* The next allocation works: the failure left nothing broken. */
  dae_error_clear (&err);
  t = dae_tensor_new (be, 1, 1, 1024, 1024, &err);
  CHECK (t != NULL, "allocation after an OOM failed: %s", err.message);
  dae_tensor_free (t);
  dae_backend_unref (be);
  return dae_test_finish ("test_core fault-oom");
}

static int
run_fault_device_lost (void)
{
  DaeError err = { 0 };
  DaeBackend *be = open_vulkan (&err);
  DaeStream *s = NULL;
  if (!CHECK_OK (err.code, &err) || !CHECK_OK (dae_stream_new (be, &s, &err), &err))
    return dae_test_finish ("test_core fault-device-lost");
  DaeTensor *t = dae_test_tensor (be, s, 1, 1, 1, 4096, NULL);
  dae_fill (s, t, 1.0f);
  DaeStatus st = dae_stream_sync (s, &err);
  CHECK (st == DAE_ERR_DEVICE_LOST, "status %d", st);
  CHECK (strstr (err.message, "lost"), "message: %s", err.message);
  /* Every later use fails cleanly too. */
  dae_fill (s, t, 2.0f);
  dae_error_clear (&err);
  CHECK (dae_stream_sync (s, &err) == DAE_ERR_DEVICE_LOST, "a lost device came back");
  dae_tensor_free (t);
  dae_stream_free (s);
  dae_backend_unref (be);
  return dae_test_finish ("test_core fault-device-lost");
}

static int
run_fault_no_compute_queue (void)
{
  DaeError err = { 0 };
  DaeBackend *be = open_vulkan (&err);
  CHECK (!be && err.code == DAE_ERR_DEVICE, "code %d", err.code);
  CHECK (strstr (err.message, "no compute queue"), "message: %s", err.message);
  return dae_test_finish ("test_core fault-no-compute-queue");
}

/* With barriers switched off, dependent dispatches race: the synchronisation-validation layer
 * must report it and the stream must fail. This shows that validation is really on. */
static int
run_skip_barriers (void)
{
  DaeError err = { 0 };
  DaeBackend *be = open_vulkan (&err);
  DaeStream *s = NULL;
  if (!CHECK_OK (err.code, &err) || !CHECK_OK (dae_stream_new (be, &s, &err), &err))
    return dae_test_finish ("test_core skip-barriers");
  DaeTensor *a = dae_test_tensor (be, s, 1, 1, 1, 4096, NULL);
  DaeTensor *b = dae_test_tensor (be, s, 1, 1, 1, 4096, NULL);
  dae_fill (s, a, 1.0f);
  dae_copy (s, b, a);
  DaeStatus st = dae_stream_sync (s, &err);
  CHECK (st == DAE_ERR_VALIDATION, "a read-after-write race was not reported (status %d)", st);
  dae_tensor_free (a);
  dae_tensor_free (b);
  dae_stream_free (s);
  dae_backend_unref (be);
  return dae_test_finish ("test_core skip-barriers");
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp (mode, "skip-barriers"))
    return run_skip_barriers ();
  if (!strcmp (mode, "no-loader"))
    return run_no_loader ();
  if (!strcmp (mode, "bad-device"))
    return run_bad_device ();
  if (!strcmp (mode, "fault-oom"))
    return run_fault_oom ();
  if (!strcmp (mode, "fault-device-lost"))
    return run_fault_device_lost ();
  if (!strcmp (mode, "fault-no-compute-queue"))
    return run_fault_no_compute_queue ();
  return run_default ();
}
