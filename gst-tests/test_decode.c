/* diffaedecode: negotiation with and without x_T, the three noise modes, refusal of
 * latents of another model or size, corrupt latent buffers, flush/EOS/state cycles. */
#include "diffae-test.h"

#include <math.h>
#include <string.h>

#define Z 16
#define XT (3 * 16 * 16)
#define FRAME (16 * 16 * 3)

static GstHarness *
new_decoder (const gchar * model, const gchar * noise)
{
  GstElement *el = gst_element_factory_make ("diffaedecode", NULL);
  GstHarness *h;

  gst_util_set_object_arg (G_OBJECT (el), "noise", noise);
  g_object_set (el, "model", model, "steps", 10, NULL);
  h = gst_harness_new_with_element (el, "sink", "src");
  gst_object_unref (el);
  return h;
}

/* A latent of the test model: z from noise (scaled like z_sem), x_T standard normal. */
static GstBuffer *
latent (guint64 seed, gboolean with_xt)
{
  gfloat z[Z], xt[XT];
  GstBuffer *buf;

  dae_gaussian_noise (seed, 0, z, Z);
  dae_gaussian_noise (seed, 1, xt, XT);
  buf = test_latent_buffer (z, Z, with_xt ? xt : NULL, XT);
  GST_BUFFER_PTS (buf) = 0;
  GST_BUFFER_DURATION (buf) = 40 * GST_MSECOND;
  return buf;
}

static GstCaps *
model_caps (gboolean with_xt)
{
  return test_latent_caps (Z, test_model_id (TEST_MODEL), 3, with_xt ? 16 : 0);
}

GST_START_TEST (test_negotiate_from_stream)
{
  GstHarness *h = new_decoder (TEST_MODEL, "from-stream");
  GstBuffer *in = latent (1, TRUE), *out;
  GstCaps *caps;
  const GstStructure *s;
  gint v, n, d;

  gst_harness_set_src_caps (h, model_caps (TRUE));
  GST_BUFFER_PTS (in) = 80 * GST_MSECOND;
  out = gst_harness_push_and_pull (h, in);
  caps = gst_pad_get_current_caps (h->sinkpad);
  GST_INFO ("video caps %" GST_PTR_FORMAT, caps);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "video/x-raw"));
  fail_unless_equals_string (gst_structure_get_string (s, "format"), "RGB");
  fail_unless (gst_structure_get_int (s, "width", &v) && v == 16);
  fail_unless (gst_structure_get_int (s, "height", &v) && v == 16);
  fail_unless (gst_structure_get_fraction (s, "framerate", &n, &d));
  fail_unless (n == 25 && d == 1);
  fail_unless (gst_structure_get_fraction (s, "pixel-aspect-ratio", &n, &d));
  fail_unless (n == 1 && d == 1);
  gst_caps_unref (caps);
  fail_unless_equals_uint64 (gst_buffer_get_size (out), FRAME);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 80 * GST_MSECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), 40 * GST_MSECOND);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Downstream asking for BGRx gets BGRx; the pixels are those of the RGB output. */
GST_START_TEST (test_output_formats)
{
  GstHarness *h = new_decoder (TEST_MODEL, "from-stream");
  GstHarness *h2 = new_decoder (TEST_MODEL, "from-stream");
  GstBuffer *rgb, *bgrx;
  GstMapInfo a, b;
  gint i;

  gst_harness_set_sink_caps_str (h2, "video/x-raw,format=BGRx");
  gst_harness_set_src_caps (h, model_caps (TRUE));
  gst_harness_set_src_caps (h2, model_caps (TRUE));
  rgb = gst_harness_push_and_pull (h, latent (2, TRUE));
  bgrx = gst_harness_push_and_pull (h2, latent (2, TRUE));
  fail_unless_equals_uint64 (gst_buffer_get_size (bgrx), 16 * 16 * 4);
  gst_buffer_map (rgb, &a, GST_MAP_READ);
  gst_buffer_map (bgrx, &b, GST_MAP_READ);
  for (i = 0; i < 16 * 16; i++) {
    fail_unless_equals_int (a.data[3 * i], b.data[4 * i + 2]);
    fail_unless_equals_int (a.data[3 * i + 1], b.data[4 * i + 1]);
    fail_unless_equals_int (a.data[3 * i + 2], b.data[4 * i]);
  }
  gst_buffer_unmap (rgb, &a);
  gst_buffer_unmap (bgrx, &b);
  gst_buffer_unref (rgb);
  gst_buffer_unref (bgrx);
  gst_harness_teardown (h);
  gst_harness_teardown (h2);
}

GST_END_TEST;

static GstBuffer *
decode_one (const gchar * noise, guint64 seed, GstBuffer * in,
    GstClockTime pts, gboolean with_xt)
{
  GstHarness *h = new_decoder (TEST_MODEL, noise);
  GstBuffer *out;

  g_object_set (h->element, "seed", seed, NULL);
  gst_harness_set_src_caps (h, model_caps (with_xt));
  GST_BUFFER_PTS (in) = pts;
  out = gst_harness_push_and_pull (h, in);
  gst_harness_teardown (h);
  return out;
}

/* z_sem only with drawn noise: fixed is the same for every frame, per-frame differs from
 * frame to frame but not from run to run, the seed matters. */
GST_START_TEST (test_noise_modes)
{
  GstBuffer *f0 = decode_one ("fixed", 5, latent (3, FALSE), 0, FALSE);
  GstBuffer *f1 = decode_one ("fixed", 5, latent (3, FALSE),
      40 * GST_MSECOND, FALSE);
  GstBuffer *p0 = decode_one ("per-frame", 5, latent (3, FALSE), 0, FALSE);
  GstBuffer *p1 = decode_one ("per-frame", 5, latent (3, FALSE),
      40 * GST_MSECOND, FALSE);
  GstBuffer *p1b = decode_one ("per-frame", 5, latent (3, FALSE),
      40 * GST_MSECOND, FALSE);
  GstBuffer *s0 = decode_one ("fixed", 6, latent (3, FALSE), 0, FALSE);
  /* x_T in the stream is ignored by the drawn modes. */
  GstBuffer *fx = decode_one ("fixed", 5, latent (3, TRUE), 0, TRUE);

  fail_unless (test_frame_mse (f0, f1, 16) == 0.0);
  fail_unless (test_frame_mse (f0, fx, 16) == 0.0);
  fail_unless (test_frame_mse (f0, p0, 16) == 0.0, "per-frame frame 0 is "
      "the fixed noise of the same seed");
  fail_unless (test_frame_mse (p0, p1, 16) > 0.0);
  fail_unless (test_frame_mse (p1, p1b, 16) == 0.0);
  fail_unless (test_frame_mse (f0, s0, 16) > 0.0);
  gst_buffer_unref (f0);
  gst_buffer_unref (f1);
  gst_buffer_unref (p0);
  gst_buffer_unref (p1);
  gst_buffer_unref (p1b);
  gst_buffer_unref (s0);
  gst_buffer_unref (fx);
}

GST_END_TEST;

static void
check_refused (const gchar * noise, GstCaps * caps, const gchar * needle1,
    const gchar * needle2)
{
  GstHarness *h = new_decoder (TEST_MODEL, noise);
  GstBus *bus = test_watch (h->element);
  GstSegment segment;

  gst_harness_push_event (h, gst_event_new_stream_start ("refused"));
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  test_assert_error (bus, needle1, needle2, NULL);
  fail_unless_equals_int (gst_harness_push (h, latent (1, TRUE)),
      GST_FLOW_NOT_NEGOTIATED);
  test_assert_refused_again (h, bus, caps);
  gst_caps_unref (caps);
  test_unwatch (h->element, bus);
  gst_harness_teardown (h);
}

GST_START_TEST (test_from_stream_needs_xt)
{
  check_refused ("from-stream", model_caps (FALSE),
      "noise=from-stream needs x_T", "has-xt=false");
}

GST_END_TEST;

GST_START_TEST (test_other_model_refused)
{
  check_refused ("from-stream", test_latent_caps (Z,
          test_model_id (TEST_OTHER), 3, 16), "model-id",
      test_model_id (TEST_OTHER));
  check_refused ("fixed", test_latent_caps (Z, test_model_id (TEST_OTHER), 3,
          0), "does not match model", test_model_id (TEST_MODEL));
}

GST_END_TEST;

GST_START_TEST (test_other_size_refused)
{
  check_refused ("from-stream", test_latent_caps (Z, "0123456789abcdef", 3,
          8), "latent 8x8 does not match model 16x16", NULL);
  check_refused ("fixed", test_latent_caps (8, "0123456789abcdef", 1, 0),
      "z_sem of 8 values does not match the model's 16", NULL);
  check_refused ("fixed", test_latent_caps (Z, test_model_id (TEST_MODEL), 1,
          16), "x_T of 1 channels", NULL);
  check_refused ("fixed", gst_caps_from_string
      ("application/x-diffae-latent,z-channels=16,has-xt=false,"
          "framerate=25/1"), "model-id", NULL);
}

GST_END_TEST;

/* Latents of the grey model through the whole chain: encoded with one model, refused by
 * the decoder of another. */
GST_START_TEST (test_chain_of_other_model_refused)
{
  gchar *desc = g_strdup_printf ("diffaeencode model=%s inversion-steps=2 ! "
      "diffaedecode model=%s", TEST_GREY, TEST_MODEL);
  GstHarness *h = gst_harness_new_parse (desc);
  GstBus *bus = test_watch (h->element);
  GstBuffer *in = gst_buffer_new_allocate (NULL, 64, NULL);

  gst_buffer_memset (in, 0, 100, 64);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=GRAY8,width=8,height=8,framerate=10/1");
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_NOT_NEGOTIATED);
  test_assert_error (bus, "latent 8x8 does not match model 16x16", NULL);
  test_unwatch (h->element, bus);
  gst_harness_teardown (h);
  g_free (desc);
}

GST_END_TEST;

GST_START_TEST (test_downstream_refuses_size)
{
  GstHarness *h = new_decoder (TEST_MODEL, "from-stream");
  GstBus *bus = test_watch (h->element);
  GstSegment segment;
  GstCaps *caps;

  gst_harness_set_sink_caps_str (h, "video/x-raw,width=32,height=32");
  gst_harness_push_event (h, gst_event_new_stream_start ("refused"));
  caps = model_caps (TRUE);
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  test_assert_error (bus, "downstream does not accept 16x16 video",
      "videoscale", NULL);
  test_unwatch (h->element, bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

static void
check_corrupt (GstBuffer * in, gboolean with_xt, const gchar * needle)
{
  GstHarness *h = new_decoder (TEST_MODEL, "fixed");
  GstBus *bus = test_watch (h->element);

  gst_harness_set_src_caps (h, model_caps (with_xt));
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_ERROR);
  test_assert_error (bus, "corrupt latent buffer", needle, NULL);
  test_unwatch (h->element, bus);
  gst_harness_teardown (h);
}

GST_START_TEST (test_corrupt_buffers)
{
  gfloat z[Z], xt[XT];
  GstBuffer *b;

  memset (z, 0, sizeof z);
  memset (xt, 0, sizeof xt);
  /* x_T missing */
  check_corrupt (test_latent_buffer (z, Z, NULL, 0), TRUE, "1 memory");
  /* z_sem too short */
  check_corrupt (test_latent_buffer (z, Z - 1, xt, XT), TRUE, "60 bytes");
  /* three memories */
  b = test_latent_buffer (z, Z, xt, XT);
  gst_buffer_append_memory (b, gst_allocator_alloc (NULL, 16, NULL));
  check_corrupt (b, TRUE, "3 memories");
  /* x_T where the caps say none */
  check_corrupt (test_latent_buffer (z, Z, xt, XT), FALSE, "no x_T");
  /* non-finite values */
  z[3] = NAN;
  check_corrupt (test_latent_buffer (z, Z, xt, XT), TRUE,
      "z_sem value 3 is NaN");
  z[3] = 0;
  xt[700] = INFINITY;
  check_corrupt (test_latent_buffer (z, Z, xt, XT), TRUE,
      "x_T value 700 is infinite");
  /* an empty buffer */
  check_corrupt (gst_buffer_new (), FALSE, "0 memories");
}

GST_END_TEST;

/* The latent in one memory (as filesrc reads a saved stream) decodes like the two-memory
 * layout; so does memory at an odd address. */
GST_START_TEST (test_contiguous_and_unaligned_latents)
{
  GstBuffer *two = latent (4, TRUE), *one, *odd, *a, *b, *c;
  GstMapInfo map;
  guint8 *bytes = g_malloc (1 + (Z + XT) * 4);

  gst_buffer_extract (two, 0, bytes + 1, (Z + XT) * 4);
  one = gst_buffer_new_wrapped (g_memdup2 (bytes + 1, (Z + XT) * 4),
      (Z + XT) * 4);
  odd = gst_buffer_new_wrapped_full (0, bytes, 1 + (Z + XT) * 4, 1,
      (Z + XT) * 4, bytes, g_free);
  gst_buffer_map (odd, &map, GST_MAP_READ);
  fail_unless (((guintptr) map.data & 3) != 0);
  gst_buffer_unmap (odd, &map);

  a = decode_one ("from-stream", 0, two, 0, TRUE);
  b = decode_one ("from-stream", 0, one, 0, TRUE);
  c = decode_one ("from-stream", 0, odd, 0, TRUE);
  fail_unless (test_frame_mse (a, b, 16) == 0.0);
  fail_unless (test_frame_mse (a, c, 16) == 0.0);
  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_buffer_unref (c);
}

GST_END_TEST;

GST_START_TEST (test_flush_eos_state_cycles)
{
  GstHarness *h = new_decoder (TEST_MODEL, "per-frame");
  GstState states[] = { GST_STATE_NULL, GST_STATE_READY, GST_STATE_PAUSED };
  GstSegment segment;
  GstEvent *ev;
  GstBuffer *out;
  guint cycle;
  gboolean got_eos;

  for (cycle = 0; cycle < G_N_ELEMENTS (states); cycle++) {
    gst_harness_play (h);
    gst_harness_push_event (h, gst_event_new_stream_start ("cycle"));
    /* Renegotiation: with and without x_T in turn. */
    gst_harness_set_src_caps (h, model_caps (cycle % 2 == 0));
    out = gst_harness_push_and_pull (h, latent (cycle, cycle % 2 == 0));
    gst_buffer_unref (out);
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
    gst_segment_init (&segment, GST_FORMAT_TIME);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
    out = gst_harness_push_and_pull (h, latent (7, cycle % 2 == 0));
    gst_buffer_unref (out);
    fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
    got_eos = FALSE;
    while (!got_eos && (ev = gst_harness_try_pull_event (h))) {
      got_eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
      gst_event_unref (ev);
    }
    fail_unless (got_eos);
    fail_unless_equals_int (gst_element_set_state (h->element,
            states[cycle]), GST_STATE_CHANGE_SUCCESS);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  GstHarness *h = new_decoder (TEST_MODEL, "from-stream");
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min, max;
  gboolean live;

  gst_harness_set_src_caps (h, model_caps (TRUE));
  gst_buffer_unref (gst_harness_push_and_pull (h, latent (1, TRUE)));
  fail_unless (gst_pad_peer_query (h->sinkpad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless (min > 0);
  gst_query_unref (q);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
diffaedecode_suite (void)
{
  Suite *s = suite_create ("diffaedecode");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_negotiate_from_stream);
  tcase_add_test (tc, test_output_formats);
  tcase_add_test (tc, test_noise_modes);
  tcase_add_test (tc, test_from_stream_needs_xt);
  tcase_add_test (tc, test_other_model_refused);
  tcase_add_test (tc, test_other_size_refused);
  tcase_add_test (tc, test_chain_of_other_model_refused);
  tcase_add_test (tc, test_downstream_refuses_size);
  tcase_add_test (tc, test_corrupt_buffers);
  tcase_add_test (tc, test_contiguous_and_unaligned_latents);
  tcase_add_test (tc, test_flush_eos_state_cycles);
  tcase_add_test (tc, test_latency_query);
  return s;
}

DIFFAE_CHECK_MAIN (diffaedecode);
