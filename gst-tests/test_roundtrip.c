/* encode -> decode through the elements on the trained tiny model: with inverted x_T the
 * frames come back far closer than from z_sem alone; an edit of strength 0 in between
 * changes nothing; (the interpolation tests are in test_interp.c). */
#include "diffae-test.h"

#define N_FRAMES 4
#define STEPS 20

/* Mean reconstruction error of N_FRAMES test frames through the launch line desc. */
static gdouble
reconstruction_mse (const gchar * desc, GstBuffer ** outs)
{
  GstHarness *h = gst_harness_new_parse (desc);
  gdouble sum = 0;
  gint i;

  gst_harness_set_src_caps (h, test_rgb_caps (16));
  for (i = 0; i < N_FRAMES; i++) {
    GstBuffer *in = test_rgb_frame (16, i), *out;
    GST_BUFFER_PTS (in) = i * 40 * GST_MSECOND;
    GST_BUFFER_DURATION (in) = 40 * GST_MSECOND;
    out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * 40 * GST_MSECOND);
    sum += test_frame_mse (in, out, 16);
    gst_buffer_unref (in);
    if (outs)
      outs[i] = out;
    else
      gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  return sum / N_FRAMES;
}

GST_START_TEST (test_inversion_reconstructs)
{
  gchar *inv = g_strdup_printf ("diffaeencode model=%s inversion-steps=%d ! "
      "diffaedecode model=%s steps=%d", TEST_MODEL, STEPS, TEST_MODEL, STEPS);
  gchar *zonly = g_strdup_printf ("diffaeencode model=%s inversion-steps=0 ! "
      "diffaedecode model=%s steps=%d noise=fixed seed=3", TEST_MODEL,
      TEST_MODEL, STEPS);
  gdouble e_inv = reconstruction_mse (inv, NULL);
  gdouble e_z = reconstruction_mse (zonly, NULL);

  g_print ("reconstruction MSE ([-1, 1] units) over %d frames, %d steps: "
      "inverted x_T %.5f, z_sem only %.5f\n", N_FRAMES, STEPS, e_inv, e_z);
  fail_unless (e_inv < 0.2 * e_z, "inverted %g is not far below z_sem-only %g",
      e_inv, e_z);
  fail_unless (e_inv < 0.02, "inverted reconstruction error %g", e_inv);
  g_free (inv);
  g_free (zonly);
}

GST_END_TEST;

GST_START_TEST (test_identity_edit_in_chain)
{
  gchar *plain = g_strdup_printf ("diffaeencode model=%s inversion-steps=5 ! "
      "diffaedecode model=%s steps=5", TEST_MODEL, TEST_MODEL);
  gchar *edit = g_strdup_printf ("diffaeencode model=%s inversion-steps=5 ! "
      "diffaeedit model=%s attribute=bright strength=0 ! "
      "diffaedecode model=%s steps=5", TEST_MODEL, TEST_MODEL, TEST_MODEL);
  GstBuffer *a[N_FRAMES], *b[N_FRAMES];
  gint i;

  reconstruction_mse (plain, a);
  reconstruction_mse (edit, b);
  for (i = 0; i < N_FRAMES; i++) {
    fail_unless (test_frame_mse (a[i], b[i], 16) == 0.0);
    gst_buffer_unref (a[i]);
    gst_buffer_unref (b[i]);
  }
  g_free (plain);
  g_free (edit);
}

GST_END_TEST;

static Suite *
diffaeroundtrip_suite (void)
{
  Suite *s = suite_create ("diffaeroundtrip");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_inversion_reconstructs);
  tcase_add_test (tc, test_identity_edit_in_chain);
  return s;
}

DIFFAE_CHECK_MAIN (diffaeroundtrip);
