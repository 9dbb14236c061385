#include "ramp.h"

#include <gst/controller/gstinterpolationcontrolsource.h>
#include <gst/controller/gstdirectcontrolbinding.h>

/* Waits for one of types or an error (printed); TRUE when it was not an error. */
static gboolean
wait_for (GstElement * pipeline, GstMessageType types)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      types | GST_MESSAGE_ERROR);
  gboolean ok = GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ERROR;

  if (!ok) {
    GError *err = NULL;
    gchar *debug = NULL;
    gst_message_parse_error (msg, &err, &debug);
    g_printerr ("%s: %s\n%s\n", g_get_prgname (), err->message,
        debug ? debug : "");
    g_clear_error (&err);
    g_free (debug);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  return ok;
}

/* Time of the last frame: from the duration of a file, else frames / framerate. */
static GstClockTime
last_frame_time (GstElement * pipeline, GstPad * pad, gint frames)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gint fps_n = 30, fps_d = 1;
  gint64 duration = -1;
  GstClockTime frame;

  if (caps) {
    gst_structure_get_fraction (gst_caps_get_structure (caps, 0), "framerate",
        &fps_n, &fps_d);
    gst_caps_unref (caps);
  }
  if (fps_n <= 0) {
    fps_n = 30;
    fps_d = 1;
  }
  frame = gst_util_uint64_scale_int (GST_SECOND, fps_d, fps_n);
  if (frames <= 0 && gst_element_query_duration (pipeline, GST_FORMAT_TIME,
          &duration) && duration > (gint64) frame)
    return duration - frame;
  return frame * MAX (frames - 1, 1);
}

GstControlSource *
ramp_bind (GstElement * element, const gchar * property, gdouble start)
{
  GstControlSource *cs = gst_interpolation_control_source_new ();

  g_object_set (cs, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  gst_timed_value_control_source_set (GST_TIMED_VALUE_CONTROL_SOURCE (cs), 0,
      start);
  gst_object_add_control_binding (GST_OBJECT (element),
      gst_direct_control_binding_new_absolute (GST_OBJECT (element), property,
          cs));
  return cs;
}

gboolean
ramp_run (GstElement * pipeline, GstPad * timing_pad, gint frames,
    GstControlSource * ramp, gdouble end, GstClockTime * end_time)
{
  gboolean ok;

  /* A failed state change posted its error: wait_for prints it. */
  gst_element_set_state (pipeline, GST_STATE_PAUSED);
  ok = wait_for (pipeline, GST_MESSAGE_ASYNC_DONE);
  if (ok) {
    *end_time = last_frame_time (pipeline, timing_pad, frames);
    gst_timed_value_control_source_set (GST_TIMED_VALUE_CONTROL_SOURCE (ramp),
        *end_time, end);
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    ok = wait_for (pipeline, GST_MESSAGE_EOS);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return ok;
}
