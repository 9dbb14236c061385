/* The "batch" property of diffaeencode and diffaedecode: N frames per run give the same
 * outputs as one at a time, in order and with their timestamps; a partial batch comes out at
 * EOS and before other serialized events; a flush drops what is held; renegotiation in the
 * middle of a batch lets the held frames out with their own caps; the latency query adds the
 * wait for N-1 frames. */
#include "diffae-test.h"

#include <math.h>

#define Z 16
#define XT (3 * 16 * 16)
#define FRAMES 8

static GstHarness *
new_element (const gchar * factory, guint batch)
{
  GstElement *el = gst_element_factory_make (factory, NULL);
  GstHarness *h;

  g_object_set (el, "model", TEST_MODEL, "batch", batch, NULL);
  if (g_str_equal (factory, "diffaedecode")) {
    gst_util_set_object_arg (G_OBJECT (el), "noise", "per-frame");
    g_object_set (el, "steps", 10, "seed", 5, NULL);
  } else {
    g_object_set (el, "inversion-steps", 10, NULL);
  }
  h = gst_harness_new_with_element (el, "sink", "src");
  gst_object_unref (el);
  return h;
}

static void
set_pts (GstBuffer * buf, gint frame)
{
  GST_BUFFER_PTS (buf) = frame * 40 * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = 40 * GST_MSECOND;
}

/* Latent i: z from noise (scaled like z_sem), no x_T (the decoder draws it per frame). */
static GstBuffer *
latent (gint i)
{
  gfloat z[Z];
  GstBuffer *buf;

  dae_gaussian_noise (100 + i, 0, z, Z);
  buf = test_latent_buffer (z, Z, NULL, 0);
  set_pts (buf, i);
  return buf;
}

static GstBuffer *
frame (gint i)
{
  GstBuffer *buf = test_rgb_frame (16, i);

  set_pts (buf, i);
  return buf;
}

static GstHarness *
new_decoder (guint batch)
{
  GstHarness *h = new_element ("diffaedecode", batch);

  gst_harness_set_src_caps (h, test_latent_caps (Z, test_model_id (TEST_MODEL),
          3, 0));
  return h;
}

static GstHarness *
new_encoder (guint batch)
{
  GstHarness *h = new_element ("diffaeencode", batch);

  gst_harness_set_src_caps (h, test_rgb_caps (16));
  return h;
}

static gboolean
pull_eos (GstHarness * h)
{
  GstEvent *ev;
  gboolean eos = FALSE;

  while (!eos && (ev = gst_harness_try_pull_event (h))) {
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  return eos;
}

/* Batches of 3 over 8 frames: nothing until 3 are in, then 3; the last 2 at EOS. */
GST_START_TEST (test_decode_batch_matches_single)
{
  GstHarness *single = new_decoder (1), *batched = new_decoder (3);
  GstBuffer *a, *b;
  gint i;

  for (i = 0; i < FRAMES; i++) {
    gst_harness_push (batched, latent (i));
    fail_unless_equals_int (gst_harness_buffers_in_queue (batched),
        (i + 1) / 3 * 3);
  }
  fail_unless (gst_harness_push_event (batched, gst_event_new_eos ()));
  fail_unless_equals_int (gst_harness_buffers_in_queue (batched), FRAMES);
  fail_unless (pull_eos (batched));
  for (i = 0; i < FRAMES; i++) {
    a = gst_harness_push_and_pull (single, latent (i));
    b = gst_harness_pull (batched);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), GST_BUFFER_PTS (a));
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), GST_BUFFER_DURATION (a));
    GST_INFO ("frame %d: batched vs single MSE %g", i, test_frame_mse (a, b, 16));
    fail_unless (test_frame_mse (a, b, 16) < 1e-5, "frame %d differs: MSE %g", i,
        test_frame_mse (a, b, 16));
    gst_buffer_unref (a);
    gst_buffer_unref (b);
  }
  gst_harness_teardown (single);
  gst_harness_teardown (batched);
}

GST_END_TEST;

static gdouble
max_abs_diff (GstBuffer * a, GstBuffer * b, guint mem, gsize n)
{
  gfloat *x = g_new (gfloat, n), *y = g_new (gfloat, n);
  gdouble d = 0.0;
  gsize i;

  test_read_memory (a, mem, x, n);
  test_read_memory (b, mem, y, n);
  for (i = 0; i < n; i++)
    d = MAX (d, fabs ((gdouble) x[i] - y[i]));
  g_free (x);
  g_free (y);
  return d;
}

/* Batches of 4 over 6 frames, with inversion: z_sem and x_T as one frame at a time. */
GST_START_TEST (test_encode_batch_matches_single)
{
  GstHarness *single = new_encoder (1), *batched = new_encoder (4);
  GstBuffer *a, *b;
  gint i;

  for (i = 0; i < 6; i++)
    gst_harness_push (batched, frame (i));
  fail_unless_equals_int (gst_harness_buffers_in_queue (batched), 4);
  fail_unless (gst_harness_push_event (batched, gst_event_new_eos ()));
  fail_unless_equals_int (gst_harness_buffers_in_queue (batched), 6);
  for (i = 0; i < 6; i++) {
    a = gst_harness_push_and_pull (single, frame (i));
    b = gst_harness_pull (batched);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), GST_BUFFER_PTS (a));
    fail_unless (max_abs_diff (a, b, 0, Z) < 1e-4, "z_sem of frame %d differs", i);
    fail_unless (max_abs_diff (a, b, 1, XT) < 1e-3, "x_T of frame %d differs", i);
    gst_buffer_unref (a);
    gst_buffer_unref (b);
  }
  gst_harness_teardown (single);
  gst_harness_teardown (batched);
}

GST_END_TEST;

/* A flush drops the held frames (the leaks tracer checks they are freed); a serialized
 * event lets them out first. */
GST_START_TEST (test_flush_and_events)
{
  GstHarness *h = new_decoder (3);
  GstSegment segment;
  GstEvent *ev;
  gboolean got_tag = FALSE;

  gst_harness_push (h, latent (0));
  gst_harness_push (h, latent (1));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  gst_harness_push (h, latent (2));
  gst_harness_push (h, latent (3));
  gst_harness_push (h, latent (4));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 3);

  gst_harness_push (h, latent (5));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 3);
  fail_unless (gst_harness_push_event (h,
          gst_event_new_tag (gst_tag_list_new (GST_TAG_TITLE, "t", NULL))));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 4);
  while ((ev = gst_harness_try_pull_event (h))) {
    got_tag |= GST_EVENT_TYPE (ev) == GST_EVENT_TAG;
    gst_event_unref (ev);
  }
  fail_unless (got_tag);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* inversion-steps goes to 0 with one frame held: that frame leaves with x_T (the caps it was
 * made for) before the new caps; the next has z_sem only. */
GST_START_TEST (test_encode_renegotiate_mid_batch)
{
  GstHarness *h = new_encoder (2);
  GstBuffer *out;

  gst_harness_push (h, frame (0));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  g_object_set (h->element, "inversion-steps", 0, NULL);
  gst_harness_push (h, frame (1));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  out = gst_harness_pull (h);
  fail_unless_equals_int (gst_buffer_n_memory (out), 2);
  gst_buffer_unref (out);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  out = gst_harness_pull (h);
  fail_unless_equals_int (gst_buffer_n_memory (out), 1);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 40 * GST_MSECOND);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

static GstClockTime
min_latency (GstHarness * h)
{
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min, max;
  gboolean live;

  fail_unless (gst_pad_peer_query (h->sinkpad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  gst_query_unref (q);
  return min;
}

/* At 25 frames/s a batch of 5 waits 4 frames (160 ms) on top of the processing time. */
GST_START_TEST (test_latency_includes_batch_wait)
{
  GstHarness *h = new_decoder (5);
  GstClockTime one, five;
  gint i;

  for (i = 0; i < 5; i++)
    gst_harness_push (h, latent (i));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 5);
  five = min_latency (h);
  g_object_set (h->element, "batch", 1, NULL);
  one = min_latency (h);
  GST_INFO ("latency batch 5: %" GST_TIME_FORMAT ", batch 1: %" GST_TIME_FORMAT,
      GST_TIME_ARGS (five), GST_TIME_ARGS (one));
  fail_unless_equals_uint64 (five - one, 160 * GST_MSECOND);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
diffaebatch_suite (void)
{
  Suite *s = suite_create ("diffaebatch");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_decode_batch_matches_single);
  tcase_add_test (tc, test_encode_batch_matches_single);
  tcase_add_test (tc, test_flush_and_events);
  tcase_add_test (tc, test_encode_renegotiate_mid_batch);
  tcase_add_test (tc, test_latency_includes_batch_wait);
  return s;
}

DIFFAE_CHECK_MAIN (diffaebatch);
