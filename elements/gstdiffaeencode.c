/* diffaeencode: video frames to diffae latents.
 * Copyright (C) 2025 the diffae authors
 * SPDX-License-Identifier: MIT
 */
/**
 * SECTION:element-diffaeencode
 * @title: diffaeencode
 *
 * Encodes each video frame into a diffae latent: the semantic code z_sem (the model's
 * encoder) and, when #GstDiffaeEncode:inversion-steps is above 0, the stochastic code x_T
 * (deterministic DDIM run backwards from the frame), from which diffaedecode reconstructs
 * the frame almost exactly. One latent buffer per frame, timestamps kept; the latent
 * caps and buffer layout are in doc/latent-format.md.
 *
 * The frames must have the model's size (square) and an 8-bit RGB-like or GRAY8 format:
 * once the model is loaded (in the READY to PAUSED change) the caps queries ask for that
 * size, so videoscale and videoconvert upstream adapt.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=10 ! videoconvert ! videoscale ! \
 *     diffaeencode model=model.safetensors inversion-steps=20 ! \
 *     diffaedecode model=model.safetensors steps=20 ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiffaeencode.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_diffae_encode_debug);
#define GST_CAT_DEFAULT gst_diffae_encode_debug

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_DEVICE,
  PROP_INVERSION_STEPS,
  PROP_BATCH,
};

#define DEFAULT_INVERSION_STEPS 20
#define MAX_STEPS 1000

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_VIDEO_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_LATENT_CAPS));

#define gst_diffae_encode_parent_class parent_class
static GstFlowReturn encode_frames (GstBaseTransform * trans, GstBuffer ** in,
    GstBuffer ** out, guint n);

G_DEFINE_TYPE_WITH_CODE (GstDiffaeEncode, gst_diffae_encode,
    GST_TYPE_BASE_TRANSFORM,
    GST_DEBUG_CATEGORY_INIT (gst_diffae_encode_debug, "diffaeencode", 0,
        "diffae encoder"));
GST_ELEMENT_REGISTER_DEFINE (diffaeencode, "diffaeencode", GST_RANK_NONE,
    GST_TYPE_DIFFAE_ENCODE);

static void
gst_diffae_encode_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (object);
  gboolean had_xt, has_xt;

  if (gst_diffae_model_settings_set (&self->settings, object, PROP_MODEL,
          prop_id, value))
    return;
  switch (prop_id) {
    case PROP_INVERSION_STEPS:
      GST_OBJECT_LOCK (self);
      had_xt = self->inversion_steps > 0;
      self->inversion_steps = g_value_get_int (value);
      has_xt = self->inversion_steps > 0;
      GST_OBJECT_UNLOCK (self);
      /* x_T appears in or leaves the stream: new caps before the next buffer. */
      if (had_xt != has_xt)
        gst_base_transform_reconfigure_src (GST_BASE_TRANSFORM (self));
      break;
    case PROP_BATCH:
      GST_OBJECT_LOCK (self);
      self->batch_size = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_diffae_encode_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (object);

  if (gst_diffae_model_settings_get (&self->settings, object, PROP_MODEL,
          prop_id, value))
    return;
  switch (prop_id) {
    case PROP_INVERSION_STEPS:
      GST_OBJECT_LOCK (self);
      g_value_set_int (value, self->inversion_steps);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_BATCH:
      GST_OBJECT_LOCK (self);
      g_value_set_uint (value, self->batch_size);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* The latent structure this element outputs, as far as it is known. Object lock held. */
static GstStructure *
latent_structure (GstDiffaeEncode * self)
{
  GstCaps *tmpl;
  GstStructure *s;

  if (!self->model) {
    tmpl = gst_static_pad_template_get_caps (&src_template);
    s = gst_structure_copy (gst_caps_get_structure (tmpl, 0));
    gst_caps_unref (tmpl);
    gst_structure_remove_field (s, "framerate");
    return s;
  }
  s = gst_structure_new (GST_DIFFAE_LATENT_MEDIA_TYPE,
      "z-channels", G_TYPE_INT, self->model_info.z_channels,
      "model-id", G_TYPE_STRING, dae_model_id (self->model),
      "has-xt", G_TYPE_BOOLEAN, self->inversion_steps > 0, NULL);
  if (self->inversion_steps > 0)
    gst_structure_set (s, "xt-channels", G_TYPE_INT,
        self->model_info.channels, "xt-height", G_TYPE_INT,
        self->model_info.image_size, "xt-width", G_TYPE_INT,
        self->model_info.image_size, NULL);
  return s;
}

/* The video structure this element takes. Object lock held. */
static GstStructure *
video_structure (GstDiffaeEncode * self)
{
  GstStructure *s = gst_structure_new_empty ("video/x-raw");

  if (self->model) {
    gst_diffae_set_video_formats (s, self->model_info.channels);
    gst_structure_set (s, "width", G_TYPE_INT, self->model_info.image_size,
        "height", G_TYPE_INT, self->model_info.image_size, NULL);
  } else {
    gst_diffae_set_video_formats (s, 1);
    gst_structure_set (s, "width", GST_TYPE_INT_RANGE, 1, G_MAXINT,
        "height", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
  }
  return s;
}

static GstCaps *
gst_diffae_encode_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  GstCaps *ret = gst_caps_new_empty ();
  guint i;

  GST_OBJECT_LOCK (self);
  for (i = 0; i < gst_caps_get_size (caps); i++) {
    const GstStructure *in = gst_caps_get_structure (caps, i);
    const GValue *fr = gst_structure_get_value (in, "framerate");
    GstStructure *out = direction == GST_PAD_SINK ? latent_structure (self) :
        video_structure (self);

    if (fr)
      gst_structure_set_value (out, "framerate", fr);
    else
      gst_structure_set (out, "framerate", GST_TYPE_FRACTION_RANGE, 0, 1,
          G_MAXINT, 1, NULL);
    ret = gst_caps_merge_structure (ret, out);
  }
  GST_OBJECT_UNLOCK (self);

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, ret,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (ret);
    ret = tmp;
  }
  GST_DEBUG_OBJECT (self, "%s caps %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, ret);
  return ret;
}

/* Accepts any video of the template on the sink pad, so that a frame of the wrong size
 * reaches the caps event and gets a clear error instead of a bare not-negotiated. */
static gboolean
gst_diffae_encode_accept_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps)
{
  GstCaps *tmpl;
  gboolean ret;

  if (direction != GST_PAD_SINK)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->accept_caps (trans,
        direction, caps);
  tmpl = gst_pad_get_pad_template_caps (trans->sinkpad);
  ret = gst_caps_is_subset (caps, tmpl);
  gst_caps_unref (tmpl);
  return ret;
}

/* Checks video caps against the model; posts a negotiation error when they do not fit. */
static gboolean
check_video_caps (GstElement * element, GstCaps * caps)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (element);
  GstVideoInfo vi;
  gint size = self->model_info.image_size;

  if (!gst_video_info_from_caps (&vi, caps)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("diffaeencode takes raw video, not %" GST_PTR_FORMAT, caps), (NULL));
    return FALSE;
  }
  if (vi.width != size || vi.height != size) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("video %dx%d does not match model %dx%d (scale the video to the "
            "model's size, e.g. with videoscale)", vi.width, vi.height, size,
            size), ("model %s", dae_model_path (self->model)));
    return FALSE;
  }
  if (!gst_diffae_video_format_allowed (GST_VIDEO_INFO_FORMAT (&vi),
          self->model_info.channels)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("video format %s does not fit the %s model (use videoconvert)",
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&vi)),
            self->model_info.channels == 1 ? "grey" : "RGB"),
        ("model %s", dae_model_path (self->model)));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_diffae_encode_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  GstCaps *caps;
  gboolean ret;

  gst_diffae_batch_handle_event (&self->batch, trans, encode_frames, event);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS || !self->model)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);

  gst_event_parse_caps (event, &caps);
  if (!gst_diffae_caps_accepted (GST_ELEMENT (self), caps,
          check_video_caps, &self->refused_caps)) {
    gst_event_unref (event);
    return FALSE;
  }
  caps = gst_caps_ref (caps);
  self->error_posted = FALSE;
  ret = GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
  if (!ret && !self->error_posted) {
    GstCaps *want = gst_pad_query_caps (trans->srcpad, NULL);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("downstream does not accept the latents of this model (%"
            GST_PTR_FORMAT ")", want), ("input %" GST_PTR_FORMAT, caps));
    gst_caps_unref (want);
  }
  gst_caps_unref (caps);
  return ret;
}

static gboolean
gst_diffae_encode_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  gchar *why = NULL;

  if (!self->model)
    return FALSE;
  /* Renegotiation (e.g. inversion-steps turned x_T on or off): the frames held for a batch
   * leave first, with the caps their outputs were made for. */
  gst_diffae_batch_drain (&self->batch, trans, encode_frames);
  if (!gst_video_info_from_caps (&self->vinfo, incaps)
      || !gst_diffae_pixel_format (GST_VIDEO_INFO_FORMAT (&self->vinfo),
          &self->pixels))
    return FALSE;
  if (!gst_diffae_latent_info_from_caps (&self->linfo, outcaps, &why)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("%s", why), (NULL));
    self->error_posted = TRUE;
    g_free (why);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->caps_inversion_steps = self->inversion_steps;
  GST_OBJECT_UNLOCK (self);

  /* one frame's room from here on: prepare_output_buffer's sign of negotiated caps (the
   * arrays keep their size until stop: the model does not change before it) */
  gst_diffae_batch_arrays_ensure (&self->arrays, &self->model_info, 1);
  GST_INFO_OBJECT (self, "encoding %" GST_PTR_FORMAT " to %" GST_PTR_FORMAT,
      incaps, outcaps);
  return TRUE;
}

static gboolean
gst_diffae_encode_get_unit_size (GstBaseTransform * trans, GstCaps * caps,
    gsize * size)
{
  GstVideoInfo vi;
  GstDiffaeLatentInfo li;

  if (gst_diffae_latent_info_from_caps (&li, caps, NULL)) {
    *size = gst_diffae_latent_info_size (&li);
    return TRUE;
  }
  if (gst_video_info_from_caps (&vi, caps)) {
    *size = GST_VIDEO_INFO_SIZE (&vi);
    return TRUE;
  }
  return FALSE;
}

static GstFlowReturn
gst_diffae_encode_prepare_output_buffer (GstBaseTransform * trans,
    GstBuffer * inbuf, GstBuffer ** outbuf)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  GstBaseTransformClass *klass = GST_BASE_TRANSFORM_GET_CLASS (trans);

  if (!self->arrays.images)
    return GST_FLOW_NOT_NEGOTIATED;
  *outbuf = gst_diffae_latent_buffer_new (&self->linfo);
  if (klass->copy_metadata)
    klass->copy_metadata (trans, inbuf, *outbuf);
  return GST_FLOW_OK;
}

/* Frame i of the batch into the batch's images (planar floats). */
static gboolean
read_frame (GstDiffaeEncode * self, GstBuffer * inbuf, guint i)
{
  gint size = self->model_info.image_size;
  GstVideoFrame frame;

  if (!gst_video_frame_map (&frame, &self->vinfo, inbuf, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a video frame"),
        (NULL));
    return FALSE;
  }
  dae_pixels_to_float (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), self->pixels,
      size, GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
      self->model_info.channels,
      self->arrays.images + gst_diffae_image_floats (&self->model_info) * i);
  gst_video_frame_unmap (&frame);
  return TRUE;
}

/* Latent i of the batch into its output buffer. */
static gboolean
write_latent (GstDiffaeEncode * self, GstBuffer * outbuf, guint i)
{
  gsize zlen = self->model_info.z_channels;
  gsize xlen = gst_diffae_image_floats (&self->model_info);
  GstDiffaeLatentMap map;
  gchar *why = NULL;

  if (!gst_diffae_latent_buffer_map (outbuf, &self->linfo, GST_MAP_WRITE, &map,
          &why)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("%s", why), (NULL));
    g_free (why);
    return FALSE;
  }
  memcpy (map.z, self->arrays.z + zlen * i, zlen * sizeof (gfloat));
  if (map.xt)
    memcpy (map.xt, self->arrays.xt + xlen * i, xlen * sizeof (gfloat));
  gst_diffae_latent_buffer_unmap (&map);
  return TRUE;
}

/* n frames to n latents through one dae_encode call (GstDiffaeBatchRun). */
static GstFlowReturn
encode_frames (GstBaseTransform * trans, GstBuffer ** in, GstBuffer ** out, guint n)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  gint64 start = g_get_monotonic_time ();
  gboolean has_xt = self->linfo.has_xt;
  DaeError err = { 0 };
  gint steps;
  guint i;

  gst_diffae_batch_arrays_ensure (&self->arrays, &self->model_info, n);
  for (i = 0; i < n; i++)
    if (!read_frame (self, in[i], i))
      return GST_FLOW_ERROR;
  /* Until the caps follow a change of inversion-steps, keep to the negotiated ones. */
  GST_OBJECT_LOCK (self);
  steps = self->inversion_steps > 0 ? self->inversion_steps :
      self->caps_inversion_steps;
  GST_OBJECT_UNLOCK (self);
  if (dae_encode (self->session, (int) n, self->arrays.images, self->arrays.z,
          has_xt ? steps : 0, has_xt ? self->arrays.xt : NULL, &err) != DAE_OK) {
    GST_DIFFAE_POST_DAE_ERROR (self, &err, "Encoding failed");
    return GST_FLOW_ERROR;
  }
  for (i = 0; i < n; i++)
    if (!write_latent (self, out[i], i))
      return GST_FLOW_ERROR;

  gst_diffae_latency_record (GST_ELEMENT (self), &self->latency, start);
  GST_LOG_OBJECT (self, "encoded %u frame(s) from %" GST_TIME_FORMAT " in %.1f ms",
      n, GST_TIME_ARGS (GST_BUFFER_PTS (in[0])),
      (g_get_monotonic_time () - start) / 1000.0);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_diffae_encode_transform (GstBaseTransform * trans, GstBuffer * inbuf,
    GstBuffer * outbuf)
{
  return encode_frames (trans, &inbuf, &outbuf, 1);
}

static GstFlowReturn
gst_diffae_encode_generate_output (GstBaseTransform * trans, GstBuffer ** outbuf)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  guint size;

  GST_OBJECT_LOCK (self);
  size = self->batch_size;
  GST_OBJECT_UNLOCK (self);
  return gst_diffae_batch_generate_output (&self->batch, trans,
      GST_BASE_TRANSFORM_CLASS (parent_class), size, encode_frames, outbuf);
}

static gboolean
gst_diffae_encode_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  gboolean result;
  guint size;

  if (gst_diffae_transform_latency_query (trans,
          GST_BASE_TRANSFORM_CLASS (parent_class), direction, query,
          &self->latency, &result)) {
    GST_OBJECT_LOCK (self);
    size = self->batch_size;
    GST_OBJECT_UNLOCK (self);
    if (result)
      gst_diffae_batch_add_latency (query, size,
          GST_VIDEO_INFO_FPS_N (&self->vinfo), GST_VIDEO_INFO_FPS_D (&self->vinfo));
    return result;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
      query);
}

static gboolean
gst_diffae_encode_start (GstBaseTransform * trans)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  DaeSession *session = NULL;
  DaeModel *model;
  gint steps;

  GST_OBJECT_LOCK (self);
  steps = self->inversion_steps;
  GST_OBJECT_UNLOCK (self);
  if (steps > 0 && !gst_diffae_check_steps (GST_ELEMENT (self), steps))
    return FALSE;
  model = gst_diffae_model_open (GST_ELEMENT (self), &self->settings, &session);
  if (!model)
    return FALSE;

  GST_OBJECT_LOCK (self);
  self->model = model;
  self->session = session;
  dae_model_info (model, &self->model_info);
  gst_diffae_latency_reset (&self->latency);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_diffae_encode_stop (GstBaseTransform * trans)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (trans);
  DaeModel *model;
  DaeSession *session;

  GST_OBJECT_LOCK (self);
  model = g_steal_pointer (&self->model);
  session = g_steal_pointer (&self->session);
  GST_OBJECT_UNLOCK (self);

  gst_caps_replace (&self->refused_caps, NULL);
  gst_diffae_batch_clear (&self->batch);
  gst_diffae_model_close (model, session);
  gst_diffae_batch_arrays_clear (&self->arrays);
  return TRUE;
}

static void
gst_diffae_encode_finalize (GObject * object)
{
  GstDiffaeEncode *self = GST_DIFFAE_ENCODE (object);

  gst_diffae_model_settings_clear (&self->settings);
  gst_diffae_batch_free (&self->batch);
  gst_diffae_batch_arrays_clear (&self->arrays);
  gst_caps_replace (&self->refused_caps, NULL);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_diffae_encode_class_init (GstDiffaeEncodeClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_diffae_encode_set_property;
  gobject_class->get_property = gst_diffae_encode_get_property;
  gobject_class->finalize = gst_diffae_encode_finalize;

  gst_diffae_model_settings_install (gobject_class, PROP_MODEL);
  g_object_class_install_property (gobject_class, PROP_INVERSION_STEPS,
      g_param_spec_int ("inversion-steps", "Inversion steps",
          "DDIM steps of the stochastic encoder that computes x_T; 0 sends "
          "z_sem only (has-xt=false). Decode with as many steps for an almost "
          "exact reconstruction", 0, MAX_STEPS, DEFAULT_INVERSION_STEPS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  gst_diffae_batch_install_property (gobject_class, PROP_BATCH);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "diffae encoder", "Filter/Encoder/Video",
      "Encodes video frames into Diffusion Autoencoder latents "
      "(z_sem and optionally the inverted x_T)", "diffae authors");

  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_diffae_encode_transform_caps);
  trans_class->accept_caps = GST_DEBUG_FUNCPTR (gst_diffae_encode_accept_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_diffae_encode_sink_event);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_diffae_encode_set_caps);
  trans_class->get_unit_size =
      GST_DEBUG_FUNCPTR (gst_diffae_encode_get_unit_size);
  trans_class->prepare_output_buffer =
      GST_DEBUG_FUNCPTR (gst_diffae_encode_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_diffae_encode_transform);
  trans_class->generate_output =
      GST_DEBUG_FUNCPTR (gst_diffae_encode_generate_output);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_diffae_encode_query);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_diffae_encode_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_diffae_encode_stop);
  trans_class->passthrough_on_same_caps = FALSE;
}

static void
gst_diffae_encode_init (GstDiffaeEncode * self)
{
  gst_diffae_model_settings_init (&self->settings);
  self->inversion_steps = DEFAULT_INVERSION_STEPS;
  self->batch_size = 1;
  gst_diffae_batch_init (&self->batch);
  gst_diffae_latency_reset (&self->latency);
}
