/* diffaeedit: strength 0 is the identity and shares x_T; an edit moves z_sem along the
 * stored direction by strength * sqrt(d) * std * w / |w| (checked against the model file,
 * not the library's dae_edit); several edits add up; a controlled strength follows the
 * stream time; unknown attributes, malformed edits, models without statistics, latents of
 * another model and corrupt buffers are clear errors. */
#include "diffae-test.h"
#include "io/model_file.h"

#include <gst/controller/gstinterpolationcontrolsource.h>
#include <gst/controller/gstdirectcontrolbinding.h>
#include <math.h>
#include <string.h>

#define Z 16
#define XT (3 * 16 * 16)

static GstHarness *
new_edit (const gchar * model, const gchar * first_property, ...)
{
  GstElement *el = gst_element_factory_make ("diffaeedit", NULL);
  GstHarness *h;
  va_list ap;

  g_object_set (el, "model", model, NULL);
  va_start (ap, first_property);
  if (first_property)
    g_object_set_valist (G_OBJECT (el), first_property, ap);
  va_end (ap);
  h = gst_harness_new_with_element (el, "sink", "src");
  gst_object_unref (el);
  gst_harness_set_src_caps (h, test_latent_caps (Z, test_model_id (model), 3,
          16));
  return h;
}

static void
input (gfloat * z, gfloat * xt)
{
  dae_gaussian_noise (21, 0, z, Z);
  dae_gaussian_noise (21, 1, xt, XT);
}

static GstBuffer *
input_buffer (GstClockTime pts)
{
  gfloat z[Z], xt[XT];
  GstBuffer *b;

  input (z, xt);
  b = test_latent_buffer (z, Z, xt, XT);
  GST_BUFFER_PTS (b) = pts;
  return b;
}

/* expected[j] = z[j] + sum_i s_i * sqrt(d) * std[j] * w_i[j] / |w_i|, from the file. */
static void
expected_edit (const gchar * const *names, const gdouble * strengths, guint n,
    gdouble * delta)
{
  DaeModelFile *mf = NULL;
  DaeError err = { 0 };
  guint i, j;

  fail_unless (dae_model_file_load (TEST_MODEL, &mf, &err) == DAE_OK, "%s",
      err.message);
  fail_unless (mf->latent_std != NULL);
  memset (delta, 0, sizeof (gdouble) * Z);
  for (i = 0; i < n; i++) {
    const DaeDirection *d = dae_model_file_direction (mf, names[i]);
    gdouble norm = 0;
    fail_unless (d != NULL, "no direction %s in the test model", names[i]);
    for (j = 0; j < Z; j++)
      norm += (gdouble) d->weight[j] * d->weight[j];
    for (j = 0; j < Z; j++)
      delta[j] += strengths[i] * sqrt ((gdouble) Z) * mf->latent_std[j] *
          d->weight[j] / sqrt (norm);
  }
  dae_model_file_free (mf);
}

static void
check_delta (GstBuffer * out, const gdouble * delta)
{
  gfloat z[Z], xt[XT], zo[Z];
  gint j;

  input (z, xt);
  test_read_memory (out, 0, zo, Z);
  for (j = 0; j < Z; j++)
    fail_unless (fabs (zo[j] - (z[j] + delta[j])) <
        1e-4 * (1 + fabs (delta[j])), "z[%d]: %g, expected %g", j, zo[j],
        z[j] + delta[j]);
}

GST_START_TEST (test_strength_0_is_identity)
{
  GstHarness *h = new_edit (TEST_MODEL, "attribute", "bright", "edits",
      "round=0", NULL);
  GstBuffer *in = input_buffer (0), *out;
  gfloat z[Z], xt[XT], zo[Z];

  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  input (z, xt);
  test_read_memory (out, 0, zo, Z);
  fail_unless (memcmp (z, zo, sizeof z) == 0);
  /* x_T is the input's memory, shared; z_sem is a new one. */
  fail_unless_equals_int (gst_buffer_n_memory (out), 2);
  fail_unless (gst_buffer_peek_memory (out, 1) == gst_buffer_peek_memory (in,
          1));
  fail_unless (gst_buffer_peek_memory (out, 0) != gst_buffer_peek_memory (in,
          0));
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
  gst_buffer_unref (in);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_edit_moves_along_direction)
{
  const gchar *names[] = { "bright" };
  gdouble s[] = { 0.3 }, delta[Z], len = 0;
  GstHarness *h = new_edit (TEST_MODEL, "edits", "bright=0.3", NULL);
  GstBuffer *out = gst_harness_push_and_pull (h, input_buffer (0));
  gint j;

  expected_edit (names, s, 1, delta);
  for (j = 0; j < Z; j++)
    len += delta[j] * delta[j];
  fail_unless (len > 1e-6, "the expected edit is zero");
  check_delta (out, delta);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_edits_add_up)
{
  const gchar *names[] = { "bright", "round", "bright" };
  gdouble s[] = { 0.2, -0.1, 0.15 }, delta[Z];
  GstHarness *h = new_edit (TEST_MODEL, "edits", " bright = 0.2 , round=-0.1 ",
      "attribute", "bright", "strength", 0.15f, NULL);
  GstBuffer *out = gst_harness_push_and_pull (h, input_buffer (0));

  expected_edit (names, s, 3, delta);
  check_delta (out, delta);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* strength ramps 0 -> 0.5 over one second. */
GST_START_TEST (test_controlled_strength)
{
  const gchar *names[] = { "round" };
  GstHarness *h = new_edit (TEST_MODEL, "attribute", "round", NULL);
  GstControlSource *cs = gst_interpolation_control_source_new ();
  GstTimedValueControlSource *tv = GST_TIMED_VALUE_CONTROL_SOURCE (cs);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS
      (h->element), "strength");
  gdouble times[] = { 0.0, 0.5, 1.0 }, delta[Z];
  GParamSpecFloat *fs;
  guint i;

  fail_unless (pspec->flags & GST_PARAM_CONTROLLABLE);
  fs = G_PARAM_SPEC_FLOAT (pspec);
  /* Control values are normalised to the property's range. */
  g_object_set (cs, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  gst_timed_value_control_source_set (tv, 0,
      (0.0 - fs->minimum) / (fs->maximum - fs->minimum));
  gst_timed_value_control_source_set (tv, GST_SECOND,
      (0.5 - fs->minimum) / (fs->maximum - fs->minimum));
  gst_object_add_control_binding (GST_OBJECT (h->element),
      gst_direct_control_binding_new (GST_OBJECT (h->element), "strength", cs));
  for (i = 0; i < G_N_ELEMENTS (times); i++) {
    GstBuffer *out = gst_harness_push_and_pull (h,
        input_buffer ((GstClockTime) (times[i] * GST_SECOND)));
    gdouble s = 0.5 * times[i];
    expected_edit (names, &s, 1, delta);
    check_delta (out, delta);
    gst_buffer_unref (out);
  }
  gst_object_unref (cs);
  gst_harness_teardown (h);
}

GST_END_TEST;

static void
check_start_error (const gchar * model, const gchar * edits,
    const gchar * needle1, const gchar * needle2, const gchar * needle3)
{
  GstElement *el = gst_element_factory_make ("diffaeedit", NULL);
  GstBus *bus = test_watch (el);

  g_object_set (el, "model", model, "edits", edits, NULL);
  fail_unless_equals_int (gst_element_set_state (el, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  test_assert_error (bus, needle1, needle2, needle3, NULL);
  gst_element_set_state (el, GST_STATE_NULL);
  test_unwatch (el, bus);
  gst_object_unref (el);
}

GST_START_TEST (test_bad_edits)
{
  check_start_error (TEST_MODEL, "bright=0.1,smiling=0.3",
      "unknown attribute \"smiling\"", "bright", "round");
  check_start_error (TEST_MODEL, "bright", "\"bright\" is not NAME=STRENGTH",
      NULL, NULL);
  check_start_error (TEST_MODEL, "bright=much", "NAME=STRENGTH", NULL, NULL);
  check_start_error (TEST_MODEL, "=0.3", "NAME=STRENGTH", NULL, NULL);
  check_start_error (TEST_OTHER, "bright=0.3", "no latent statistics", NULL,
      NULL);
}

GST_END_TEST;

/* An unknown attribute set while playing stops the stream with the same error. */
GST_START_TEST (test_unknown_attribute_while_playing)
{
  GstHarness *h = new_edit (TEST_MODEL, NULL);
  GstBus *bus = test_watch (h->element);

  gst_buffer_unref (gst_harness_push_and_pull (h, input_buffer (0)));
  g_object_set (h->element, "attribute", "smiling", NULL);
  fail_unless_equals_int (gst_harness_push (h, input_buffer (0)),
      GST_FLOW_ERROR);
  test_assert_error (bus, "unknown attribute \"smiling\"", "bright, round",
      NULL);
  test_unwatch (h->element, bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_other_model_refused)
{
  GstElement *el = gst_element_factory_make ("diffaeedit", NULL);
  GstHarness *h;
  GstBus *bus;
  GstCaps *caps;
  GstSegment segment;

  g_object_set (el, "model", TEST_MODEL, NULL);
  h = gst_harness_new_with_element (el, "sink", "src");
  bus = test_watch (el);
  gst_harness_push_event (h, gst_event_new_stream_start ("x"));
  caps = test_latent_caps (Z, test_model_id (TEST_OTHER), 3, 16);
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  test_assert_error (bus, "latent model-id", test_model_id (TEST_OTHER),
      test_model_id (TEST_MODEL), NULL);
  fail_unless_equals_int (gst_harness_push (h, input_buffer (0)),
      GST_FLOW_NOT_NEGOTIATED);
  test_unwatch (el, bus);
  gst_harness_teardown (h);
  gst_object_unref (el);
}

GST_END_TEST;

/* The single-memory form (z_sem then x_T) comes out in the two-memory layout, x_T shared
 * as a sub-memory; corrupt buffers are errors. */
GST_START_TEST (test_layouts)
{
  GstHarness *h = new_edit (TEST_MODEL, "edits", "round=0.1", NULL);
  GstBus *bus = test_watch (h->element);
  gfloat z[Z], xt[XT], xo[XT];
  GstBuffer *in = input_buffer (0), *one, *out;
  gpointer bytes = g_malloc ((Z + XT) * 4);

  gst_buffer_extract (in, 0, bytes, (Z + XT) * 4);
  gst_buffer_unref (in);
  one = gst_buffer_new_wrapped (bytes, (Z + XT) * 4);
  out = gst_harness_push_and_pull (h, one);
  fail_unless_equals_int (gst_buffer_n_memory (out), 2);
  input (z, xt);
  test_read_memory (out, 1, xo, XT);
  fail_unless (memcmp (xt, xo, sizeof xt) == 0);
  gst_buffer_unref (out);

  z[0] = INFINITY;
  fail_unless_equals_int (gst_harness_push (h, test_latent_buffer (z, Z, xt,
              XT)), GST_FLOW_ERROR);
  test_assert_error (bus, "corrupt latent buffer", "z_sem value 0 is infinite",
      NULL);
  fail_unless_equals_int (gst_harness_push (h, test_latent_buffer (z, Z, NULL,
              0)), GST_FLOW_ERROR);
  test_assert_error (bus, "corrupt latent buffer", "1 memory", NULL);
  test_unwatch (h->element, bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
diffaeedit_suite (void)
{
  Suite *s = suite_create ("diffaeedit");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_strength_0_is_identity);
  tcase_add_test (tc, test_edit_moves_along_direction);
  tcase_add_test (tc, test_edits_add_up);
  tcase_add_test (tc, test_controlled_strength);
  tcase_add_test (tc, test_bad_edits);
  tcase_add_test (tc, test_unknown_attribute_while_playing);
  tcase_add_test (tc, test_other_model_refused);
  tcase_add_test (tc, test_layouts);
  return s;
}

DIFFAE_CHECK_MAIN (diffaeedit);
