/* What diffae-edit-ramp and diffae-morph share: a controllable property of one element
 * ramped linearly over a clip (a GstInterpolationControlSource bound with
 * gst_direct_control_binding_new_absolute), and running the pipeline to its end. */
#ifndef DIFFAE_EXAMPLES_RAMP_H
#define DIFFAE_EXAMPLES_RAMP_H

#include <gst/gst.h>

/* Binds property of element to a linear control source that starts at value `start` at
 * t = 0 (so the preroll frame has it). Returns the source (unref it when done). */
GstControlSource *ramp_bind (GstElement * element, const gchar * property, gdouble start);

/* Prerolls the pipeline, sets the ramp's end point `end` at the time of the last frame (the
 * duration of a file when frames <= 0, else frames at the framerate of timing_pad's caps),
 * plays to EOS and stops. Errors are printed; TRUE when the clip ran to its end. *end_time
 * gets the time of the last frame. */
gboolean ramp_run (GstElement * pipeline, GstPad * timing_pad, gint frames,
    GstControlSource * ramp, gdouble end, GstClockTime * end_time);

#endif
