/* Helpers of the diffae element tests. */
#include "diffae-test.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

static GHashTable *model_ids;

const gchar *
test_model_path (const gchar * env)
{
  const gchar *p = g_getenv (env);

  fail_unless (p != NULL && *p, "%s is not set (run the tests with meson test)",
      env);
  return p;
}

const gchar *
test_model_id (const gchar * path)
{
  DaeBackendOptions bo = {.kind = DAE_BACKEND_CPU };
  DaeBackend *be = NULL;
  DaeModel *m = NULL;
  DaeError err = { 0 };
  gchar *id;

  if (!model_ids)
    model_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  id = g_hash_table_lookup (model_ids, path);
  if (id)
    return id;
  fail_unless (dae_backend_open (&bo, &be, &err) == DAE_OK, "%s", err.message);
  fail_unless (dae_model_load (be, path, &m, &err) == DAE_OK, "%s",
      err.message);
  id = g_strdup (dae_model_id (m));
  g_hash_table_insert (model_ids, g_strdup (path), id);
  dae_model_unref (m);
  dae_backend_unref (be);
  return id;
}

GstBus *
test_watch (GstElement * element)
{
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (element, bus);
  return bus;
}

void
test_unwatch (GstElement * element, GstBus * bus)
{
  /* Queued messages hold references to their sources: drop them. */
  gst_element_set_bus (element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

gchar *
test_pop_error (GstBus * bus)
{
  /* Errors of streaming threads may come a little later. */
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_ERROR);
  GError *error = NULL;
  gchar *debug = NULL, *text;

  if (!msg)
    return NULL;
  gst_message_parse_error (msg, &error, &debug);
  text = g_strdup (error->message);
  GST_INFO ("error: %s (%s)", error->message, debug);
  g_error_free (error);
  g_free (debug);
  gst_message_unref (msg);
  return text;
}

void
test_assert_error (GstBus * bus, const gchar * first_needle, ...)
{
  gchar *text = test_pop_error (bus);
  const gchar *needle;
  va_list ap;

  fail_unless (text != NULL, "no error was posted (expected one about \"%s\")",
      first_needle);
  va_start (ap, first_needle);
  for (needle = first_needle; needle; needle = va_arg (ap, const gchar *))
      fail_unless (strstr (text, needle) != NULL,
        "error \"%s\" does not mention \"%s\"", text, needle);
  va_end (ap);
  g_free (text);
}

guint
test_count_messages (GstBus * bus, GstMessageType type)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (bus, type))) {
    if (type == GST_MESSAGE_PROGRESS) {
      GstProgressType pt;
      gchar *code = NULL, *text = NULL;
      gst_message_parse_progress (msg, &pt, &code, &text);
      if (pt == GST_PROGRESS_TYPE_START && g_strcmp0 (code, "model-load") == 0)
        n++;
      g_free (code);
      g_free (text);
    } else {
      n++;
    }
    gst_message_unref (msg);
  }
  return n;
}

void
test_assert_refused_again (GstHarness * h, GstBus * bus, GstCaps * caps)
{
  GstPad *sinkpad = gst_element_get_static_pad (h->element, "sink");

  fail_if (gst_pad_send_event (sinkpad, gst_event_new_caps (caps)));
  fail_unless_equals_int (test_count_messages (bus, GST_MESSAGE_ERROR), 0);
  gst_object_unref (sinkpad);
}

GstCaps *
test_latent_caps (gint z, const gchar * model_id, gint xt_channels,
    gint xt_size)
{
  GstCaps *caps = gst_caps_new_simple ("application/x-diffae-latent",
      "z-channels", G_TYPE_INT, z,
      "model-id", G_TYPE_STRING, model_id,
      "has-xt", G_TYPE_BOOLEAN, xt_size > 0, NULL);

  if (xt_size > 0)
    gst_caps_set_simple (caps, "xt-channels", G_TYPE_INT, xt_channels,
        "xt-height", G_TYPE_INT, xt_size, "xt-width", G_TYPE_INT, xt_size,
        NULL);
  gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, 25, 1, NULL);
  return caps;
}

GstBuffer *
test_latent_buffer (const gfloat * z, gsize z_len, const gfloat * xt,
    gsize xt_len)
{
  GstBuffer *buf = gst_buffer_new ();
  gpointer zcopy = g_memdup2 (z, z_len * sizeof (gfloat));

  gst_buffer_append_memory (buf, gst_memory_new_wrapped (0, zcopy,
          z_len * sizeof (gfloat), 0, z_len * sizeof (gfloat), zcopy, g_free));
  if (xt) {
    gpointer copy = g_memdup2 (xt, xt_len * sizeof (gfloat));
    gst_buffer_append_memory (buf, gst_memory_new_wrapped (0, copy,
            xt_len * sizeof (gfloat), 0, xt_len * sizeof (gfloat), copy,
            g_free));
  }
  return buf;
}

void
test_read_memory (GstBuffer * buffer, guint i, gfloat * out, gsize n)
{
  GstMemory *mem;
  GstMapInfo map;

  fail_unless (i < gst_buffer_n_memory (buffer), "buffer has %u memories",
      gst_buffer_n_memory (buffer));
  mem = gst_buffer_peek_memory (buffer, i);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, n * sizeof (gfloat));
  memcpy (out, map.data, map.size);
  gst_memory_unmap (mem, &map);
}

GstBuffer *
test_rgb_frame (gint size, gint variant)
{
  GstBuffer *buf =
      gst_buffer_new_allocate (NULL, (gsize) size * size * 3, NULL);
  GstMapInfo map;
  gint x, y, c;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (y = 0; y < size; y++)
    for (x = 0; x < size; x++)
      for (c = 0; c < 3; c++) {
        gfloat t = (gfloat) x / (size - 1);
        gfloat a = 0.6f * sinf (1.3f * variant + c);
        gfloat b = 0.6f * cosf (0.7f * variant + 2 * c);
        gfloat v = (1 - t) * a + t * b;
        map.data[(y * size + x) * 3 + c] = (guint8) lrintf ((v + 1) * 127.5f);
      }
  gst_buffer_unmap (buf, &map);
  return buf;
}

gdouble
test_frame_mse (GstBuffer * a, GstBuffer * b, gint size)
{
  GstMapInfo ma, mb;
  gdouble s = 0;
  gsize i, n = (gsize) size * size * 3;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  fail_unless (ma.size >= n && mb.size >= n);
  for (i = 0; i < n; i++) {
    gdouble d = (ma.data[i] - (gdouble) mb.data[i]) / 127.5;
    s += d * d;
  }
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return s / n;
}

GstCaps *
test_rgb_caps (gint size)
{
  return gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, size, "height", G_TYPE_INT, size,
      "framerate", GST_TYPE_FRACTION, 25, 1, NULL);
}

gint
test_run (Suite * s, const gchar * name)
{
  gint failed = gst_check_run_suite (s, name, __FILE__);

  g_clear_pointer (&model_ids, g_hash_table_unref);
  /* gst_check_init registered gst_deinit at exit: the leaks tracer reports then. */
  return failed;
}
