/* diffaeinterp: alpha 0 and 1 give the inputs, alpha between gives lerp/slerp, a
 * controlled alpha follows the stream time, pads are aligned by running time, mismatched
 * inputs are refused, flush/EOS/state cycles. Two harnesses on one element: sink_0 with
 * the source pad, sink_1 alone (the pattern of upstream's cccombiner test). */
#include "diffae-test.h"

#include <gst/controller/gstinterpolationcontrolsource.h>
#include <gst/controller/gstdirectcontrolbinding.h>
#include <math.h>
#include <string.h>

#define Z 16
#define XT (3 * 16 * 16)
#define MODEL_ID "00112233aabbccdd"

typedef struct
{
  GstHarness *h0, *h1;
} Pair;

static Pair
new_interp (gfloat alpha, gboolean with_xt)
{
  GstElement *el = gst_element_factory_make ("diffaeinterp", NULL);
  Pair p;

  g_object_set (el, "alpha", alpha, NULL);
  p.h0 = gst_harness_new_with_element (el, "sink_0", "src");
  p.h1 = gst_harness_new_with_element (el, "sink_1", NULL);
  gst_object_unref (el);
  gst_harness_set_src_caps (p.h0, test_latent_caps (Z, MODEL_ID, 3,
          with_xt ? 16 : 0));
  gst_harness_set_src_caps (p.h1, test_latent_caps (Z, MODEL_ID, 3,
          with_xt ? 16 : 0));
  return p;
}

static void
free_pair (Pair * p)
{
  gst_harness_teardown (p->h1);
  gst_harness_teardown (p->h0);
}

/* Deterministic test latents: z of stream s, x_T of stream s. */
static void
values (guint64 s, gfloat * z, gfloat * xt)
{
  dae_gaussian_noise (100 + s, 0, z, Z);
  if (xt)
    dae_gaussian_noise (100 + s, 1, xt, XT);
}

static GstBuffer *
make (guint64 s, gboolean with_xt, GstClockTime pts, GstClockTime duration)
{
  gfloat z[Z], xt[XT];
  GstBuffer *b;

  values (s, z, xt);
  b = test_latent_buffer (z, Z, with_xt ? xt : NULL, XT);
  GST_BUFFER_PTS (b) = pts;
  GST_BUFFER_DURATION (b) = duration;
  return b;
}

static GstBuffer *
mix (Pair * p, GstBuffer * a, GstBuffer * b)
{
  fail_unless_equals_int (gst_harness_push (p->h1, b), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (p->h0, a), GST_FLOW_OK);
  return gst_harness_pull (p->h0);
}

static void
check_z (GstBuffer * out, guint64 sa, guint64 sb, gdouble alpha)
{
  gfloat za[Z], zb[Z], zo[Z];
  gint i;

  values (sa, za, NULL);
  values (sb, zb, NULL);
  test_read_memory (out, 0, zo, Z);
  for (i = 0; i < Z; i++)
    fail_unless (fabs (zo[i] - ((1 - alpha) * za[i] + alpha * zb[i])) < 1e-5,
        "z[%d] = %g at alpha %g", i, zo[i], alpha);
}

GST_START_TEST (test_alpha_0_and_1_give_the_inputs)
{
  gfloat z[Z], xt[XT], zo[Z], xo[XT];
  gint k;

  for (k = 0; k < 2; k++) {
    Pair p = new_interp (k, TRUE);
    GstBuffer *out = mix (&p, make (1, TRUE, 0, GST_MSECOND * 40),
        make (2, TRUE, 0, GST_MSECOND * 40));

    values (1 + k, z, xt);
    fail_unless_equals_int (gst_buffer_n_memory (out), 2);
    test_read_memory (out, 0, zo, Z);
    test_read_memory (out, 1, xo, XT);
    fail_unless (memcmp (z, zo, sizeof z) == 0, "alpha %d: z_sem differs", k);
    fail_unless (memcmp (xt, xo, sizeof xt) == 0, "alpha %d: x_T differs", k);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), 40 * GST_MSECOND);
    gst_buffer_unref (out);
    free_pair (&p);
  }
}

GST_END_TEST;

GST_START_TEST (test_alpha_half_lerp_slerp)
{
  Pair p = new_interp (0.5f, TRUE);
  GstBuffer *out = mix (&p, make (1, TRUE, 0, 0), make (2, TRUE, 0, 0));
  gfloat za[Z], xa[XT], zb[Z], xb[XT], xo[XT];
  gdouble dot = 0, na = 0, nb = 0, theta, w;
  GstCaps *caps;
  gint i;

  check_z (out, 1, 2, 0.5);
  values (1, za, xa);
  values (2, zb, xb);
  test_read_memory (out, 1, xo, XT);
  for (i = 0; i < XT; i++) {
    dot += (gdouble) xa[i] * xb[i];
    na += (gdouble) xa[i] * xa[i];
    nb += (gdouble) xb[i] * xb[i];
  }
  theta = acos (dot / sqrt (na * nb));
  w = sin (0.5 * theta) / sin (theta);
  for (i = 0; i < XT; i++)
    fail_unless (fabs (xo[i] - w * (xa[i] + xb[i])) < 1e-4, "x_T[%d]", i);
  caps = gst_pad_get_current_caps (p.h0->sinkpad);
  fail_unless_equals_string (gst_structure_get_string (gst_caps_get_structure
          (caps, 0), "model-id"), MODEL_ID);
  gst_caps_unref (caps);
  gst_buffer_unref (out);
  free_pair (&p);
}

GST_END_TEST;

GST_START_TEST (test_z_only_streams)
{
  Pair p = new_interp (0.25f, FALSE);
  GstBuffer *out = mix (&p, make (3, FALSE, 0, 0), make (4, FALSE, 0, 0));

  fail_unless_equals_int (gst_buffer_n_memory (out), 1);
  check_z (out, 3, 4, 0.25);
  gst_buffer_unref (out);
  free_pair (&p);
}

GST_END_TEST;

/* alpha from a GstInterpolationControlSource: 0 at 0 s, 1 at 1 s, linear. */
GST_START_TEST (test_controlled_alpha)
{
  Pair p = new_interp (0.5f, FALSE);
  GstControlSource *cs = gst_interpolation_control_source_new ();
  GstTimedValueControlSource *tv = GST_TIMED_VALUE_CONTROL_SOURCE (cs);
  gdouble times[] = { 0.0, 0.25, 0.5, 1.0 };
  guint i;

  g_object_set (cs, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  gst_timed_value_control_source_set (tv, 0, 0.0);
  gst_timed_value_control_source_set (tv, GST_SECOND, 1.0);
  gst_object_add_control_binding (GST_OBJECT (p.h0->element),
      gst_direct_control_binding_new (GST_OBJECT (p.h0->element), "alpha", cs));
  for (i = 0; i < G_N_ELEMENTS (times); i++) {
    GstClockTime t = (GstClockTime) (times[i] * GST_SECOND);
    GstBuffer *out = mix (&p, make (5, FALSE, t, 0), make (6, FALSE, t, 0));
    check_z (out, 5, 6, times[i]);
    gst_buffer_unref (out);
  }
  gst_object_unref (cs);
  free_pair (&p);
}

GST_END_TEST;

/* sink_0 at 25 fps, sink_1 at 12.5 fps: each sink_0 frame takes the latest sink_1 frame
 * that is not later; the output ends when sink_1's last frame is over. */
GST_START_TEST (test_time_alignment)
{
  Pair p = new_interp (1.0f, FALSE);
  const GstClockTime f = 40 * GST_MSECOND;
  GstBuffer *out;
  GstEvent *ev;
  gboolean got_eos = FALSE;

  fail_unless_equals_int (gst_harness_push (p.h1, make (10, FALSE, 0, 2 * f)),
      GST_FLOW_OK);
  out = gst_harness_push_and_pull (p.h0, make (0, FALSE, 0, f));
  check_z (out, 0, 10, 1.0);
  gst_buffer_unref (out);

  fail_unless_equals_int (gst_harness_push (p.h1, make (11, FALSE, 2 * f,
              2 * f)), GST_FLOW_OK);
  out = gst_harness_push_and_pull (p.h0, make (1, FALSE, f, f));
  check_z (out, 1, 10, 1.0);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), f);
  gst_buffer_unref (out);
  out = gst_harness_push_and_pull (p.h0, make (2, FALSE, 2 * f, f));
  check_z (out, 2, 11, 1.0);
  gst_buffer_unref (out);

  /* sink_1 ends: its last frame still covers 3f, not 4f. */
  fail_unless_equals_int (gst_harness_push (p.h0, make (3, FALSE, 3 * f, f)),
      GST_FLOW_OK);
  fail_unless (gst_harness_push_event (p.h1, gst_event_new_eos ()));
  out = gst_harness_pull (p.h0);
  check_z (out, 3, 11, 1.0);
  gst_buffer_unref (out);
  gst_harness_push (p.h0, make (4, FALSE, 4 * f, f));
  while (!got_eos && (ev = gst_harness_pull_event (p.h0))) {
    got_eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (got_eos);
  fail_unless_equals_int (gst_harness_buffers_in_queue (p.h0), 0);
  free_pair (&p);
}

GST_END_TEST;

static void
check_mismatch (GstCaps * caps1, const gchar * needle)
{
  GstElement *el = gst_element_factory_make ("diffaeinterp", NULL);
  GstHarness *h0 = gst_harness_new_with_element (el, "sink_0", "src");
  GstHarness *h1 = gst_harness_new_with_element (el, "sink_1", NULL);
  GstBus *bus = test_watch (el);
  GstSegment segment;

  gst_harness_set_src_caps (h0, test_latent_caps (Z, MODEL_ID, 3, 16));
  gst_harness_push_event (h1, gst_event_new_stream_start ("b"));
  gst_harness_push_event (h1, gst_event_new_caps (caps1));
  gst_caps_unref (caps1);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h1, gst_event_new_segment (&segment));
  gst_harness_push (h0, make (1, TRUE, 0, 0));
  gst_harness_push (h1, make (2, TRUE, 0, 0));
  /* (The caps are handled in the aggregator's thread: test_assert_error waits.) */
  test_assert_error (bus, needle, NULL);
  test_unwatch (el, bus);
  gst_harness_teardown (h1);
  gst_harness_teardown (h0);
  gst_object_unref (el);
}

GST_START_TEST (test_mismatched_inputs_refused)
{
  check_mismatch (test_latent_caps (Z, "ffeeddccbbaa9988", 3, 16),
      "sink_1 latents of model ffeeddccbbaa9988 do not match sink_0's model "
      MODEL_ID);
  check_mismatch (test_latent_caps (Z, MODEL_ID, 3, 0), "both carry x_T");
  check_mismatch (test_latent_caps (8, MODEL_ID, 3, 16),
      "sink_1 latent does not match sink_0");
}

GST_END_TEST;

GST_START_TEST (test_corrupt_input)
{
  Pair p = new_interp (0.5f, TRUE);
  GstBus *bus = test_watch (p.h0->element);
  gfloat z[Z], xt[XT];

  values (1, z, xt);
  xt[5] = NAN;
  gst_harness_push (p.h1, test_latent_buffer (z, Z, xt, XT));
  gst_harness_push (p.h0, make (2, TRUE, 0, 0));
  test_assert_error (bus, "sink_1: corrupt latent buffer", "NaN", NULL);
  test_unwatch (p.h0->element, bus);
  free_pair (&p);
}

GST_END_TEST;

GST_START_TEST (test_flush_eos_state_cycles)
{
  Pair p = new_interp (0.5f, TRUE);
  GstState states[] = { GST_STATE_NULL, GST_STATE_READY, GST_STATE_PAUSED };
  GstSegment segment;
  GstBuffer *out;
  GstEvent *ev;
  gboolean got_eos;
  guint cycle;

  gst_segment_init (&segment, GST_FORMAT_TIME);
  for (cycle = 0; cycle < G_N_ELEMENTS (states); cycle++) {
    if (cycle > 0) {
      gst_harness_play (p.h0);
      gst_harness_push_event (p.h0, gst_event_new_stream_start ("a"));
      gst_harness_push_event (p.h1, gst_event_new_stream_start ("b"));
      gst_harness_set_src_caps (p.h0, test_latent_caps (Z, MODEL_ID, 3, 16));
      gst_harness_set_src_caps (p.h1, test_latent_caps (Z, MODEL_ID, 3, 16));
    }
    out = mix (&p, make (1, TRUE, 0, 0), make (2, TRUE, 0, 0));
    check_z (out, 1, 2, 0.5);
    gst_buffer_unref (out);

    /* Flush both inputs (a seek): the held sink_1 buffer goes, data flows again. */
    fail_unless (gst_harness_push_event (p.h0, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (p.h1, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (p.h0,
            gst_event_new_flush_stop (TRUE)));
    fail_unless (gst_harness_push_event (p.h1,
            gst_event_new_flush_stop (TRUE)));
    fail_unless (gst_harness_push_event (p.h0,
            gst_event_new_segment (&segment)));
    fail_unless (gst_harness_push_event (p.h1,
            gst_event_new_segment (&segment)));
    out = mix (&p, make (3, TRUE, 0, 0), make (4, TRUE, 0, 0));
    check_z (out, 3, 4, 0.5);
    gst_buffer_unref (out);

    fail_unless (gst_harness_push_event (p.h0, gst_event_new_eos ()));
    fail_unless (gst_harness_push_event (p.h1, gst_event_new_eos ()));
    got_eos = FALSE;
    while (!got_eos && (ev = gst_harness_pull_event (p.h0))) {
      got_eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
      gst_event_unref (ev);
    }
    fail_unless (got_eos);
    fail_unless (gst_element_set_state (p.h0->element, states[cycle]) !=
        GST_STATE_CHANGE_FAILURE);
  }
  free_pair (&p);
}

GST_END_TEST;

static Suite *
diffaeinterp_suite (void)
{
  Suite *s = suite_create ("diffaeinterp");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_alpha_0_and_1_give_the_inputs);
  tcase_add_test (tc, test_alpha_half_lerp_slerp);
  tcase_add_test (tc, test_z_only_streams);
  tcase_add_test (tc, test_controlled_alpha);
  tcase_add_test (tc, test_time_alignment);
  tcase_add_test (tc, test_mismatched_inputs_refused);
  tcase_add_test (tc, test_corrupt_input);
  tcase_add_test (tc, test_flush_eos_state_cycles);
  return s;
}

DIFFAE_CHECK_MAIN (diffaeinterp);
