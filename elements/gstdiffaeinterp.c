/* diffaeinterp: interpolates two latent streams.
 * Copyright (C) 2025 the diffae authors
 * SPDX-License-Identifier: MIT
 */
/**
 * SECTION:element-diffaeinterp
 * @title: diffaeinterp
 *
 * Mixes two latent streams of the same model into one: z_sem by linear interpolation and
 * x_T by spherical interpolation (slerp), out = (1 - alpha) * sink_0 + alpha * sink_1 in
 * the sense of the paper. #GstDiffaeInterp:alpha is controllable, so a
 * GstInterpolationControlSource can morph from one stream into the other over a clip.
 *
 * The pads are aligned by running time: each buffer of sink_0 makes one output buffer
 * (with its timestamps and segment) from the latest sink_1 buffer that does not start more
 * than half a frame after it; equal frame rates pair one to one. The output ends with
 * sink_0, or when sink_1 has ended and its last frame is over. Both inputs must carry the
 * same kind of latent (model, z_sem size, x_T shape or its absence); anything else is a
 * negotiation error saying what differs.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 diffaeinterp name=mix alpha=0.5 ! \
 *     diffaedecode model=model.safetensors ! videoconvert ! autovideosink \
 *   videotestsrc num-buffers=10 pattern=ball ! videoconvert ! videoscale ! \
 *     diffaeencode model=model.safetensors ! mix.sink_0 \
 *   videotestsrc num-buffers=10 pattern=smpte ! videoconvert ! videoscale ! \
 *     diffaeencode model=model.safetensors ! mix.sink_1
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiffaeinterp.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_diffae_interp_debug);
#define GST_CAT_DEFAULT gst_diffae_interp_debug

enum
{
  PROP_0,
  PROP_ALPHA,
};

#define DEFAULT_ALPHA 0.5f

static GstStaticPadTemplate sink_0_template = GST_STATIC_PAD_TEMPLATE ("sink_0",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_LATENT_CAPS));

static GstStaticPadTemplate sink_1_template = GST_STATIC_PAD_TEMPLATE ("sink_1",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_LATENT_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_LATENT_CAPS));

#define gst_diffae_interp_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstDiffaeInterp, gst_diffae_interp,
    GST_TYPE_AGGREGATOR,
    GST_DEBUG_CATEGORY_INIT (gst_diffae_interp_debug, "diffaeinterp", 0,
        "diffae latent interpolation"));
GST_ELEMENT_REGISTER_DEFINE (diffaeinterp, "diffaeinterp", GST_RANK_NONE,
    GST_TYPE_DIFFAE_INTERP);

static void
gst_diffae_interp_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (object);

  switch (prop_id) {
    case PROP_ALPHA:
      GST_OBJECT_LOCK (self);
      self->alpha = g_value_get_float (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_diffae_interp_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (object);

  switch (prop_id) {
    case PROP_ALPHA:
      GST_OBJECT_LOCK (self);
      g_value_set_float (value, self->alpha);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static gint
pad_index (GstDiffaeInterp * self, GstAggregatorPad * pad)
{
  return pad == self->sinkpad[0] ? 0 : 1;
}

/* Posts a negotiation error when the two inputs carry different latents. */
static gboolean
check_inputs (GstDiffaeInterp * self)
{
  const GstDiffaeLatentInfo *a = &self->info[0], *b = &self->info[1];
  gchar *da, *db;

  if (!self->have_info[0] || !self->have_info[1])
    return TRUE;
  if (a->z_channels == b->z_channels && strcmp (a->model_id, b->model_id) == 0
      && a->has_xt == b->has_xt && a->xt_channels == b->xt_channels
      && a->xt_height == b->xt_height && a->xt_width == b->xt_width)
    return TRUE;
  da = gst_diffae_latent_info_describe (a);
  db = gst_diffae_latent_info_describe (b);
  if (a->has_xt != b->has_xt)
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("sink_0 and sink_1 must both carry x_T or both not (sink_0: %s; "
            "sink_1: %s)", da, db), (NULL));
  else if (strcmp (a->model_id, b->model_id) != 0)
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("sink_1 latents of model %s do not match sink_0's model %s "
            "(sink_0: %s; sink_1: %s)", b->model_id, a->model_id, da, db),
        (NULL));
  else
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("sink_1 latent does not match sink_0 (sink_0: %s; sink_1: %s)", da,
            db), (NULL));
  g_free (da);
  g_free (db);
  return FALSE;
}

static gboolean
gst_diffae_interp_sink_event (GstAggregator * agg, GstAggregatorPad * aggpad,
    GstEvent * event)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (agg);
  gint i = pad_index (self, aggpad);
  GstCaps *caps;
  gchar *why = NULL;
  gboolean ret;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      gst_event_parse_caps (event, &caps);
      if (!gst_diffae_latent_info_from_caps (&self->info[i], caps, &why)) {
        GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("sink_%d: %s", i, why),
            ("caps %" GST_PTR_FORMAT, caps));
        g_free (why);
        self->have_info[i] = FALSE;
        gst_event_unref (event);
        return FALSE;
      }
      self->have_info[i] = TRUE;
      gst_event_unref (event);
      if (!check_inputs (self))
        return FALSE;
      gst_pad_mark_reconfigure (GST_AGGREGATOR_SRC_PAD (agg));
      return TRUE;
    case GST_EVENT_SEGMENT:
      ret = GST_AGGREGATOR_CLASS (parent_class)->sink_event (agg, aggpad,
          event);
      if (i == 0) {
        GstSegment segment;
        GST_OBJECT_LOCK (aggpad);
        segment = aggpad->segment;
        GST_OBJECT_UNLOCK (aggpad);
        if (segment.format != GST_FORMAT_TIME) {
          GST_ELEMENT_ERROR (self, STREAM, FAILED,
              ("diffaeinterp needs TIME segments, sink_0 has %s",
                  gst_format_get_name (segment.format)), (NULL));
          return FALSE;
        }
        /* The output follows sink_0's timeline. */
        gst_aggregator_update_segment (agg, &segment);
      }
      return ret;
    default:
      return GST_AGGREGATOR_CLASS (parent_class)->sink_event (agg, aggpad,
          event);
  }
}

static gboolean
gst_diffae_interp_sink_query (GstAggregator * agg, GstAggregatorPad * aggpad,
    GstQuery * query)
{
  GstCaps *tmpl, *filter, *caps;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      /* Any latent: a mismatch between the inputs is reported on the caps event. */
      tmpl = gst_pad_get_pad_template_caps (GST_PAD (aggpad));
      gst_query_parse_caps (query, &filter);
      if (filter) {
        caps = gst_caps_intersect_full (filter, tmpl, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (tmpl);
      } else {
        caps = tmpl;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    case GST_QUERY_ACCEPT_CAPS:
      gst_query_parse_accept_caps (query, &caps);
      tmpl = gst_pad_get_pad_template_caps (GST_PAD (aggpad));
      gst_query_set_accept_caps_result (query, gst_caps_is_subset (caps, tmpl));
      gst_caps_unref (tmpl);
      return TRUE;
    default:
      return GST_AGGREGATOR_CLASS (parent_class)->sink_query (agg, aggpad,
          query);
  }
}

static GstFlowReturn
gst_diffae_interp_update_src_caps (GstAggregator * agg, GstCaps * caps,
    GstCaps ** ret)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (agg);
  GstCaps *ours;

  if (!self->have_info[0] || !self->have_info[1])
    return GST_AGGREGATOR_FLOW_NEED_DATA;
  ours = gst_diffae_latent_info_to_caps (&self->info[0]);
  if (!gst_caps_can_intersect (ours, caps)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("downstream does not accept the interpolated latents %"
            GST_PTR_FORMAT, ours), ("downstream accepts %" GST_PTR_FORMAT,
            caps));
    gst_caps_unref (ours);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  *ret = ours;
  return GST_FLOW_OK;
}

static GstClockTime
running_time (GstAggregatorPad * pad, GstBuffer * buf)
{
  GstClockTime rt;

  if (!GST_BUFFER_PTS_IS_VALID (buf))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (pad);
  rt = gst_segment_to_running_time (&pad->segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (buf));
  GST_OBJECT_UNLOCK (pad);
  return rt;
}

static GstClockTime
frame_duration (const GstDiffaeLatentInfo * info, GstBuffer * buf)
{
  if (GST_BUFFER_DURATION_IS_VALID (buf))
    return GST_BUFFER_DURATION (buf);
  if (info->fps_n > 0)
    return gst_util_uint64_scale_int (GST_SECOND, info->fps_d, info->fps_n);
  return 0;
}

static void
hold (GstDiffaeInterp * self, GstBuffer * buf)
{
  gst_clear_buffer (&self->held);
  self->held = buf;
}

/* Makes self->held the sink_1 buffer for sink_0's buffer at running time rt0. Returns
 * FALSE when there is none yet. */
static gboolean
advance_sink_1 (GstDiffaeInterp * self, GstBuffer * b0, GstClockTime rt0)
{
  GstAggregatorPad *pad1 = self->sinkpad[1];
  GstClockTime tolerance = frame_duration (&self->info[0], b0) / 2;
  GstBuffer *b1;

  while ((b1 = gst_aggregator_pad_peek_buffer (pad1))) {
    GstClockTime rt1 = running_time (pad1, b1);
    gboolean timed = GST_CLOCK_TIME_IS_VALID (rt0)
        && GST_CLOCK_TIME_IS_VALID (rt1);
    gboolean later = timed && rt1 > rt0 + tolerance;

    if (self->held && later) {
      gst_buffer_unref (b1);
      break;
    }
    gst_aggregator_pad_drop_buffer (pad1);
    hold (self, b1);
    if (later || !timed)        /* untimed buffers pair one to one */
      break;
  }
  return self->held != NULL;
}

/* TRUE when sink_1 has ended and its last frame is over at running time rt0. */
static gboolean
sink_1_finished (GstDiffaeInterp * self, GstClockTime rt0)
{
  GstAggregatorPad *pad1 = self->sinkpad[1];
  GstClockTime rt1;

  if (!gst_aggregator_pad_is_eos (pad1) || gst_aggregator_pad_has_buffer (pad1))
    return FALSE;
  if (!self->held)
    return TRUE;
  rt1 = running_time (pad1, self->held);
  if (!GST_CLOCK_TIME_IS_VALID (rt0) || !GST_CLOCK_TIME_IS_VALID (rt1))
    return FALSE;
  return rt0 >= rt1 + MAX (frame_duration (&self->info[1], self->held), 1);
}

static GstFlowReturn
interpolate (GstDiffaeInterp * self, GstBuffer * b0, GstBuffer * b1,
    GstBuffer ** out)
{
  GstDiffaeLatentMap m0, m1, mo;
  const GstDiffaeLatentInfo *info = &self->info[0];
  gchar *why = NULL;
  gfloat alpha;

  GST_OBJECT_LOCK (self);
  alpha = self->alpha;
  GST_OBJECT_UNLOCK (self);

  if (!gst_diffae_latent_buffer_map (b0, info, GST_MAP_READ, &m0, &why)) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("sink_0: %s", why), (NULL));
    g_free (why);
    return GST_FLOW_ERROR;
  }
  if (!gst_diffae_latent_buffer_map (b1, &self->info[1], GST_MAP_READ, &m1,
          &why)) {
    gst_diffae_latent_buffer_unmap (&m0);
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("sink_1: %s", why), (NULL));
    g_free (why);
    return GST_FLOW_ERROR;
  }
  *out = gst_diffae_latent_buffer_new (info);
  if (!gst_diffae_latent_buffer_map (*out, info, GST_MAP_WRITE, &mo, &why)) {
    gst_diffae_latent_buffer_unmap (&m0);
    gst_diffae_latent_buffer_unmap (&m1);
    gst_clear_buffer (out);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", why), (NULL));
    g_free (why);
    return GST_FLOW_ERROR;
  }
  dae_interpolate (m0.z, m1.z, info->z_channels, m0.xt, m1.xt,
      gst_diffae_latent_info_xt_bytes (info) / sizeof (gfloat), alpha, mo.z,
      mo.xt);
  gst_diffae_latent_buffer_unmap (&mo);
  gst_diffae_latent_buffer_unmap (&m1);
  gst_diffae_latent_buffer_unmap (&m0);
  GST_LOG_OBJECT (self, "alpha %.3f at %" GST_TIME_FORMAT, alpha,
      GST_TIME_ARGS (GST_BUFFER_PTS (b0)));
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_diffae_interp_aggregate (GstAggregator * agg, gboolean timeout)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (agg);
  GstAggregatorPad *pad0 = self->sinkpad[0];
  gint64 start = g_get_monotonic_time ();
  GstBuffer *b0, *out = NULL;
  GstClockTime rt0, stream_time, pts, dts, duration;
  GstFlowReturn ret;
  GstSegment *srcseg;
  gboolean drifted;

  b0 = gst_aggregator_pad_peek_buffer (pad0);
  if (!b0) {
    if (gst_aggregator_pad_is_eos (pad0)) {
      GST_DEBUG_OBJECT (self, "sink_0 ended");
      return GST_FLOW_EOS;
    }
    return GST_AGGREGATOR_FLOW_NEED_DATA;
  }
  rt0 = running_time (pad0, b0);
  if (!advance_sink_1 (self, b0, rt0) || sink_1_finished (self, rt0)) {
    gst_buffer_unref (b0);
    if (gst_aggregator_pad_is_eos (self->sinkpad[1])) {
      GST_DEBUG_OBJECT (self, "sink_1 ended");
      return GST_FLOW_EOS;
    }
    return GST_AGGREGATOR_FLOW_NEED_DATA;
  }
  if (!gst_pad_has_current_caps (GST_AGGREGATOR_SRC_PAD (agg))) {
    gst_buffer_unref (b0);
    return GST_FLOW_NOT_NEGOTIATED;
  }

  /* The controlled alpha at this frame. */
  GST_OBJECT_LOCK (pad0);
  stream_time = gst_segment_to_stream_time (&pad0->segment, GST_FORMAT_TIME,
      GST_BUFFER_PTS (b0));
  GST_OBJECT_UNLOCK (pad0);
  if (GST_CLOCK_TIME_IS_VALID (stream_time))
    gst_object_sync_values (GST_OBJECT (self), stream_time);

  ret = interpolate (self, b0, self->held, &out);
  pts = GST_BUFFER_PTS (b0);
  dts = GST_BUFFER_DTS (b0);
  duration = GST_BUFFER_DURATION (b0);
  if (out)
    gst_buffer_copy_into (out, b0, GST_BUFFER_COPY_FLAGS |
        GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  /* Untimed input pairs one to one: the held buffer is used up. */
  if (!GST_CLOCK_TIME_IS_VALID (rt0))
    gst_clear_buffer (&self->held);
  gst_aggregator_pad_drop_buffer (pad0);
  gst_buffer_unref (b0);
  if (ret != GST_FLOW_OK)
    return ret;

  GST_OBJECT_LOCK (agg);
  srcseg = &GST_AGGREGATOR_PAD (agg->srcpad)->segment;
  if (GST_CLOCK_TIME_IS_VALID (pts))
    srcseg->position = pts + (GST_CLOCK_TIME_IS_VALID (duration) ? duration :
        0);
  drifted = gst_diffae_latency_add (&self->latency,
      g_get_monotonic_time () - start);
  GST_OBJECT_UNLOCK (agg);
  if (drifted) {
    GstClockTime l;
    GST_OBJECT_LOCK (agg);
    l = gst_diffae_latency_report (&self->latency);
    GST_OBJECT_UNLOCK (agg);
    /* Posts a latency message when the value changes. */
    gst_aggregator_set_latency (agg, l, l);
  }

  gst_aggregator_selected_samples (agg, pts, dts, duration, NULL);
  return gst_aggregator_finish_buffer (agg, out);
}

static GstFlowReturn
gst_diffae_interp_flush (GstAggregator * agg)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (agg);

  gst_clear_buffer (&self->held);
  return GST_FLOW_OK;
}

static gboolean
gst_diffae_interp_start (GstAggregator * agg)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (agg);

  self->have_info[0] = self->have_info[1] = FALSE;
  gst_clear_buffer (&self->held);
  GST_OBJECT_LOCK (self);
  gst_diffae_latency_reset (&self->latency);
  GST_OBJECT_UNLOCK (self);
  gst_aggregator_set_latency (agg, 0, 0);
  return TRUE;
}

static gboolean
gst_diffae_interp_stop (GstAggregator * agg)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (agg);

  self->have_info[0] = self->have_info[1] = FALSE;
  gst_clear_buffer (&self->held);
  return TRUE;
}

static void
gst_diffae_interp_finalize (GObject * object)
{
  GstDiffaeInterp *self = GST_DIFFAE_INTERP (object);

  gst_clear_buffer (&self->held);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_diffae_interp_class_init (GstDiffaeInterpClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstAggregatorClass *agg_class = GST_AGGREGATOR_CLASS (klass);

  gobject_class->set_property = gst_diffae_interp_set_property;
  gobject_class->get_property = gst_diffae_interp_get_property;
  gobject_class->finalize = gst_diffae_interp_finalize;

  g_object_class_install_property (gobject_class, PROP_ALPHA,
      g_param_spec_float ("alpha", "Alpha",
          "Position between the inputs: 0 gives sink_0, 1 gives sink_1 (z_sem "
          "lerp, x_T slerp); controllable, synced on each output buffer's "
          "stream time", 0.0f, 1.0f, DEFAULT_ALPHA,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_CONTROLLABLE | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &sink_0_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &sink_1_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &src_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_set_static_metadata (element_class,
      "diffae latent interpolation", "Filter/Video/Mixer",
      "Interpolates two Diffusion Autoencoder latent streams (z_sem lerp, "
      "x_T slerp) with a controllable alpha", "diffae authors");

  agg_class->sink_event = GST_DEBUG_FUNCPTR (gst_diffae_interp_sink_event);
  agg_class->sink_query = GST_DEBUG_FUNCPTR (gst_diffae_interp_sink_query);
  agg_class->update_src_caps =
      GST_DEBUG_FUNCPTR (gst_diffae_interp_update_src_caps);
  agg_class->aggregate = GST_DEBUG_FUNCPTR (gst_diffae_interp_aggregate);
  agg_class->flush = GST_DEBUG_FUNCPTR (gst_diffae_interp_flush);
  agg_class->start = GST_DEBUG_FUNCPTR (gst_diffae_interp_start);
  agg_class->stop = GST_DEBUG_FUNCPTR (gst_diffae_interp_stop);
  agg_class->get_next_time = gst_aggregator_simple_get_next_time;
}

static void
gst_diffae_interp_init (GstDiffaeInterp * self)
{
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  guint i;

  for (i = 0; i < 2; i++) {
    gchar *name = g_strdup_printf ("sink_%u", i);
    GstPadTemplate *templ = gst_element_class_get_pad_template (klass, name);
    self->sinkpad[i] = g_object_new (GST_TYPE_AGGREGATOR_PAD, "name", name,
        "direction", GST_PAD_SINK, "template", templ, NULL);
    gst_element_add_pad (GST_ELEMENT (self), GST_PAD (self->sinkpad[i]));
    g_free (name);
  }
  self->alpha = DEFAULT_ALPHA;
  gst_diffae_latency_reset (&self->latency);
}
