/* diffaeencode: caps queries constrained to the model, negotiation with and without x_T,
 * refusal of frames that do not fit the model, bad model files, flush/EOS/state cycles,
 * renegotiation, latency, one model load shared by several elements. */
#include "diffae-test.h"

#include <glib/gstdio.h>
#include <math.h>

static GstHarness *
new_encoder (const gchar * model, gint inversion_steps)
{
  GstElement *el = gst_element_factory_make ("diffaeencode", NULL);
  GstHarness *h;

  /* The harness starts the element: the model must be set before. */
  g_object_set (el, "model", model, "inversion-steps", inversion_steps, NULL);
  h = gst_harness_new_with_element (el, "sink", "src");
  gst_object_unref (el);
  return h;
}

static void
set_pts (GstBuffer * buf, gint frame)
{
  GST_BUFFER_PTS (buf) = frame * 40 * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = 40 * GST_MSECOND;
  GST_BUFFER_OFFSET (buf) = frame;
}

static void
check_finite (GstBuffer * buf, guint mem, gsize n)
{
  gfloat *v = g_new (gfloat, n);
  gsize i;
  gboolean nonzero = FALSE;

  test_read_memory (buf, mem, v, n);
  for (i = 0; i < n; i++) {
    fail_unless (isfinite (v[i]), "value %" G_GSIZE_FORMAT " is %g", i, v[i]);
    nonzero |= v[i] != 0.0f;
  }
  fail_unless (nonzero, "memory %u is all zero", mem);
  g_free (v);
}

GST_START_TEST (test_caps_query_reports_model_size)
{
  GstHarness *h = new_encoder (TEST_MODEL, 20);
  GstCaps *caps;
  const GstStructure *s;
  const GValue *formats;
  gint w, hgt;
  guint i;

  gst_harness_play (h);
  caps = gst_pad_peer_query_caps (h->srcpad, NULL);
  GST_INFO ("sink caps %" GST_PTR_FORMAT, caps);
  fail_unless (gst_caps_get_size (caps) >= 1);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_get_int (s, "width", &w));
  fail_unless (gst_structure_get_int (s, "height", &hgt));
  fail_unless_equals_int (w, 16);
  fail_unless_equals_int (hgt, 16);
  formats = gst_structure_get_value (s, "format");
  fail_unless (GST_VALUE_HOLDS_LIST (formats));
  fail_unless_equals_string (g_value_get_string (gst_value_list_get_value
          (formats, 0)), "RGB");
  for (i = 0; i < gst_value_list_get_size (formats); i++)
    fail_if (g_str_equal (g_value_get_string (gst_value_list_get_value (formats,
                    i)), "GRAY8"), "an RGB model offers GRAY8");
  gst_caps_unref (caps);

  /* The source pad offers this model's latents, with x_T. */
  caps = gst_pad_peer_query_caps (h->sinkpad, NULL);
  s = gst_caps_get_structure (caps, 0);
  fail_unless_equals_string (gst_structure_get_string (s, "model-id"),
      test_model_id (TEST_MODEL));
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_caps_query_grey_model)
{
  GstHarness *h = new_encoder (TEST_GREY, 0);
  GstCaps *caps;
  const GstStructure *s;
  GstBuffer *in, *out;
  GstMapInfo map;
  gint w;

  gst_harness_play (h);
  caps = gst_pad_peer_query_caps (h->srcpad, NULL);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_get_int (s, "width", &w));
  fail_unless_equals_int (w, 8);
  fail_unless_equals_string (g_value_get_string (gst_value_list_get_value
          (gst_structure_get_value (s, "format"), 0)), "GRAY8");
  gst_caps_unref (caps);

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=GRAY8,width=8,height=8,framerate=10/1");
  in = gst_buffer_new_allocate (NULL, 8 * 8, NULL);
  gst_buffer_map (in, &map, GST_MAP_WRITE);
  for (w = 0; w < 64; w++)
    map.data[w] = (guint8) (w * 4);
  gst_buffer_unmap (in, &map);
  out = gst_harness_push_and_pull (h, in);
  fail_unless_equals_int (gst_buffer_n_memory (out), 1);
  check_finite (out, 0, 8);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_negotiate_with_xt)
{
  GstHarness *h = new_encoder (TEST_MODEL, 20);
  GstBuffer *in, *out;
  GstCaps *caps;
  const GstStructure *s;
  gboolean has_xt;
  gint v, n, d;

  gst_harness_play (h);
  gst_harness_set_src_caps (h, test_rgb_caps (16));
  in = test_rgb_frame (16, 0);
  set_pts (in, 3);
  out = gst_harness_push_and_pull (h, in);

  caps = gst_pad_get_current_caps (h->sinkpad);
  GST_INFO ("latent caps %" GST_PTR_FORMAT, caps);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "application/x-diffae-latent"));
  fail_unless (gst_structure_get_int (s, "z-channels", &v));
  fail_unless_equals_int (v, 16);
  fail_unless_equals_string (gst_structure_get_string (s, "model-id"),
      test_model_id (TEST_MODEL));
  fail_unless (gst_structure_get_boolean (s, "has-xt", &has_xt) && has_xt);
  fail_unless (gst_structure_get_int (s, "xt-channels", &v) && v == 3);
  fail_unless (gst_structure_get_int (s, "xt-height", &v) && v == 16);
  fail_unless (gst_structure_get_int (s, "xt-width", &v) && v == 16);
  fail_unless (gst_structure_get_fraction (s, "framerate", &n, &d));
  fail_unless (n == 25 && d == 1);
  gst_caps_unref (caps);

  fail_unless_equals_int (gst_buffer_n_memory (out), 2);
  fail_unless_equals_uint64 (gst_buffer_peek_memory (out, 0)->size, 16 * 4);
  fail_unless_equals_uint64 (gst_buffer_peek_memory (out, 1)->size,
      3 * 16 * 16 * 4);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 120 * GST_MSECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), 40 * GST_MSECOND);
  check_finite (out, 0, 16);
  check_finite (out, 1, 3 * 16 * 16);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* z_sem only, and the same z_sem as with x_T (the encoder does not depend on inversion). */
GST_START_TEST (test_negotiate_without_xt)
{
  GstHarness *h = new_encoder (TEST_MODEL, 0);
  GstHarness *h2 = new_encoder (TEST_MODEL, 5);
  GstBuffer *out, *out2;
  GstCaps *caps;
  const GstStructure *s;
  gboolean has_xt;
  gfloat z[16], z2[16];

  gst_harness_play (h);
  gst_harness_set_src_caps (h, test_rgb_caps (16));
  out = gst_harness_push_and_pull (h, test_rgb_frame (16, 1));
  caps = gst_pad_get_current_caps (h->sinkpad);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_get_boolean (s, "has-xt", &has_xt));
  fail_if (has_xt);
  fail_if (gst_structure_has_field (s, "xt-channels"));
  gst_caps_unref (caps);
  fail_unless_equals_int (gst_buffer_n_memory (out), 1);
  fail_unless_equals_uint64 (gst_buffer_get_size (out), 16 * 4);

  gst_harness_play (h2);
  gst_harness_set_src_caps (h2, test_rgb_caps (16));
  out2 = gst_harness_push_and_pull (h2, test_rgb_frame (16, 1));
  test_read_memory (out, 0, z, 16);
  test_read_memory (out2, 0, z2, 16);
  fail_unless (memcmp (z, z2, sizeof z) == 0);
  gst_buffer_unref (out);
  gst_buffer_unref (out2);
  gst_harness_teardown (h);
  gst_harness_teardown (h2);
}

GST_END_TEST;

/* Changing inversion-steps between 0 and > 0 renegotiates; changing the video format too. */
GST_START_TEST (test_renegotiation)
{
  GstHarness *h = new_encoder (TEST_MODEL, 5);
  GstBuffer *out, *in;
  GstCaps *caps;
  GstMapInfo src, dst;
  gboolean has_xt;
  gfloat z1[16], z2[16];
  gint i;

  gst_harness_play (h);
  gst_harness_set_src_caps (h, test_rgb_caps (16));
  out = gst_harness_push_and_pull (h, test_rgb_frame (16, 2));
  fail_unless_equals_int (gst_buffer_n_memory (out), 2);
  test_read_memory (out, 0, z1, 16);
  gst_buffer_unref (out);

  g_object_set (h->element, "inversion-steps", 0, NULL);
  out = gst_harness_push_and_pull (h, test_rgb_frame (16, 2));
  fail_unless_equals_int (gst_buffer_n_memory (out), 1);
  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_structure_get_boolean (gst_caps_get_structure (caps, 0),
          "has-xt", &has_xt));
  fail_if (has_xt);
  gst_caps_unref (caps);
  gst_buffer_unref (out);

  /* The same picture as BGRx gives the same z_sem. */
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRx,width=16,height=16,framerate=25/1");
  in = test_rgb_frame (16, 2);
  out = gst_buffer_new_allocate (NULL, 16 * 16 * 4, NULL);
  gst_buffer_map (in, &src, GST_MAP_READ);
  gst_buffer_map (out, &dst, GST_MAP_WRITE);
  for (i = 0; i < 16 * 16; i++) {
    dst.data[4 * i + 0] = src.data[3 * i + 2];
    dst.data[4 * i + 1] = src.data[3 * i + 1];
    dst.data[4 * i + 2] = src.data[3 * i + 0];
    dst.data[4 * i + 3] = 0;
  }
  gst_buffer_unmap (in, &src);
  gst_buffer_unmap (out, &dst);
  gst_buffer_unref (in);
  out = gst_harness_push_and_pull (h, out);
  test_read_memory (out, 0, z2, 16);
  fail_unless (memcmp (z1, z2, sizeof z1) == 0);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

static void
check_refused (const gchar * model, GstCaps * caps, const gchar * needle1,
    const gchar * needle2)
{
  GstHarness *h = new_encoder (model, 0);
  GstBus *bus = test_watch (h->element);
  GstSegment segment;

  gst_harness_play (h);
  gst_harness_push_event (h, gst_event_new_stream_start ("refused"));
  /* (A sticky event push is not refused: it is kept for later.) */
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  test_assert_error (bus, needle1, needle2, NULL);
  fail_unless_equals_int (gst_harness_push (h, test_rgb_frame (16, 0)),
      GST_FLOW_NOT_NEGOTIATED);
  test_assert_refused_again (h, bus, caps);
  gst_caps_unref (caps);
  test_unwatch (h->element, bus);
  gst_harness_teardown (h);
}

GST_START_TEST (test_wrong_size_refused)
{
  check_refused (TEST_MODEL, test_rgb_caps (32),
      "video 32x32 does not match model 16x16", "videoscale");
}

GST_END_TEST;

GST_START_TEST (test_gray_refused_by_rgb_model)
{
  check_refused (TEST_MODEL,
      gst_caps_from_string
      ("video/x-raw,format=GRAY8,width=16,height=16,framerate=25/1"),
      "format GRAY8", "RGB model");
}

GST_END_TEST;

static void
check_start_fails (const gchar * factory, const gchar * model,
    const gchar * needle1, const gchar * needle2)
{
  GstElement *el = gst_element_factory_make (factory, NULL);
  GstBus *bus = test_watch (el);

  if (model)
    g_object_set (el, "model", model, NULL);
  fail_unless_equals_int (gst_element_set_state (el, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  test_assert_error (bus, needle1, needle2, NULL);
  gst_element_set_state (el, GST_STATE_NULL);
  test_unwatch (el, bus);
  gst_object_unref (el);
}

GST_START_TEST (test_bad_model_path)
{
  const gchar *factories[] = { "diffaeencode", "diffaedecode", "diffaeedit" };
  gchar *dir = g_dir_make_tmp ("diffae-XXXXXX", NULL);
  gchar *bad = g_build_filename (dir, "bad.safetensors", NULL);
  guint i;

  fail_unless (g_file_set_contents (bad, "not a model", -1, NULL));
  for (i = 0; i < G_N_ELEMENTS (factories); i++) {
    check_start_fails (factories[i], "/nonexistent/model.safetensors",
        "/nonexistent/model.safetensors", "No such file");
    check_start_fails (factories[i], bad, bad, "Could not load model");
    check_start_fails (factories[i], dir, dir, "not a regular file");
  }
  g_unlink (bad);
  g_rmdir (dir);
  g_free (bad);
  g_free (dir);
}

GST_END_TEST;

/* A step count that cannot be spaced over the 1000 timesteps fails the start, not a frame. */
GST_START_TEST (test_unspaceable_steps)
{
  const gchar *factories[] = { "diffaeencode", "diffaedecode" };
  const gchar *props[] = { "inversion-steps", "steps" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (factories); i++) {
    GstElement *el = gst_element_factory_make (factories[i], NULL);
    GstBus *bus = test_watch (el);

    g_object_set (el, "model", TEST_MODEL, props[i], 999, NULL);
    fail_unless_equals_int (gst_element_set_state (el, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    test_assert_error (bus, "999 steps", "500 and 1000", NULL);
    gst_element_set_state (el, GST_STATE_NULL);
    test_unwatch (el, bus);
    gst_object_unref (el);
  }
}

GST_END_TEST;

/* The default model (installed with the plugin) may not exist yet: then a clear error. */
GST_START_TEST (test_default_model_missing)
{
  GstElement *el = gst_element_factory_make ("diffaeencode", NULL);
  gchar *model;

  g_object_get (el, "model", &model, NULL);
  gst_object_unref (el);
  fail_unless (g_str_has_suffix (model, "diffae/weights/shapes.safetensors"),
      "default model %s", model);
  if (!g_file_test (model, G_FILE_TEST_EXISTS))
    check_start_fails ("diffaeencode", NULL, "default model",
        "set the model property");
  g_free (model);
}

GST_END_TEST;

/* Flushes, EOS and state changes back and forth keep the element working. */
GST_START_TEST (test_flush_eos_state_cycles)
{
  GstHarness *h = new_encoder (TEST_MODEL, 2);
  GstState states[] = { GST_STATE_NULL, GST_STATE_READY, GST_STATE_PAUSED };
  GstSegment segment;
  GstEvent *ev;
  GstBuffer *out;
  guint cycle;
  gint frame = 0;
  gboolean got_eos;

  for (cycle = 0; cycle < G_N_ELEMENTS (states); cycle++) {
    gst_harness_play (h);
    gst_harness_push_event (h, gst_event_new_stream_start ("cycle"));
    gst_harness_set_src_caps (h, test_rgb_caps (16));
    for (gint i = 0; i < 2; i++) {
      GstBuffer *in = test_rgb_frame (16, i);
      set_pts (in, frame++);
      out = gst_harness_push_and_pull (h, in);
      fail_unless_equals_int (gst_buffer_n_memory (out), 2);
      gst_buffer_unref (out);
    }
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
    fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
    gst_segment_init (&segment, GST_FORMAT_TIME);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
    out = gst_harness_push_and_pull (h, test_rgb_frame (16, 5));
    gst_buffer_unref (out);
    fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
    got_eos = FALSE;
    while (!got_eos && (ev = gst_harness_try_pull_event (h))) {
      got_eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
      gst_event_unref (ev);
    }
    fail_unless (got_eos, "EOS did not come out");
    fail_unless_equals_int (gst_element_set_state (h->element,
            states[cycle]), GST_STATE_CHANGE_SUCCESS);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  GstHarness *h = new_encoder (TEST_MODEL, 10);
  GstQuery *q;
  GstClockTime min, max;
  gboolean live;

  gst_harness_play (h);
  gst_harness_set_src_caps (h, test_rgb_caps (16));
  gst_buffer_unref (gst_harness_push_and_pull (h, test_rgb_frame (16, 0)));
  q = gst_query_new_latency ();
  fail_unless (gst_pad_peer_query (h->sinkpad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  GST_INFO ("latency %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT,
      GST_TIME_ARGS (min), GST_TIME_ARGS (max));
  fail_unless (min > 0, "the measured processing time is not reported");
  gst_query_unref (q);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Elements naming the same model file load it once (one progress message). */
GST_START_TEST (test_model_shared)
{
  GstElement *bin = gst_pipeline_new (NULL);
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (bin));
  const gchar *factories[] = { "diffaeencode", "diffaedecode", "diffaeedit",
    "diffaeencode"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (factories); i++) {
    GstElement *el = gst_element_factory_make (factories[i], NULL);
    g_object_set (el, "model", TEST_MODEL, NULL);
    gst_bin_add (GST_BIN (bin), el);
  }
  fail_unless (gst_element_set_state (bin, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (test_count_messages (bus, GST_MESSAGE_PROGRESS), 1);
  gst_element_set_state (bin, GST_STATE_NULL);

  /* Released with the last user, loaded again afterwards. */
  fail_unless (gst_element_set_state (bin, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (test_count_messages (bus, GST_MESSAGE_PROGRESS), 1);
  gst_element_set_state (bin, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (bin);
}

GST_END_TEST;

static Suite *
diffaeencode_suite (void)
{
  Suite *s = suite_create ("diffaeencode");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_caps_query_reports_model_size);
  tcase_add_test (tc, test_caps_query_grey_model);
  tcase_add_test (tc, test_negotiate_with_xt);
  tcase_add_test (tc, test_negotiate_without_xt);
  tcase_add_test (tc, test_renegotiation);
  tcase_add_test (tc, test_wrong_size_refused);
  tcase_add_test (tc, test_gray_refused_by_rgb_model);
  tcase_add_test (tc, test_bad_model_path);
  tcase_add_test (tc, test_unspaceable_steps);
  tcase_add_test (tc, test_default_model_missing);
  tcase_add_test (tc, test_flush_eos_state_cycles);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_model_shared);
  return s;
}

DIFFAE_CHECK_MAIN (diffaeencode);
