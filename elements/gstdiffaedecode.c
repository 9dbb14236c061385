/* diffaedecode: diffae latents to video frames.
 * Copyright (C) 2025 the diffae authors
 * SPDX-License-Identifier: MIT
 */
/**
 * SECTION:element-diffaedecode
 * @title: diffaedecode
 *
 * Decodes diffae latents into video frames of the model's size by deterministic DDIM
 * sampling with #GstDiffaeDecode:steps steps, conditioned on z_sem. The starting noise x_T
 * comes from the stream (an almost exact reconstruction when diffaeencode inverted the
 * frames with as many steps), or is drawn from #GstDiffaeDecode:seed: one x_T for every
 * frame (stable details) or a new one per frame.
 *
 * Latents of another model (a different model-id in the caps, or an x_T of another size)
 * are refused at negotiation with an error that says what did not match.
 *
 * #GstDiffaeDecode:batch decodes that many frames together: higher throughput, that many
 * frames minus one of latency (included in the latency query when the framerate is known).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=10 ! videoconvert ! videoscale ! \
 *     diffaeencode model=model.safetensors inversion-steps=0 ! \
 *     diffaedecode model=model.safetensors noise=fixed seed=7 ! \
 *     videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiffaedecode.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_diffae_decode_debug);
#define GST_CAT_DEFAULT gst_diffae_decode_debug

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_DEVICE,
  PROP_STEPS,
  PROP_NOISE,
  PROP_SEED,
  PROP_BATCH,
};

#define DEFAULT_STEPS 20
#define DEFAULT_NOISE GST_DIFFAE_DECODE_NOISE_FROM_STREAM
#define DEFAULT_SEED 0
#define MAX_STEPS 1000

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_LATENT_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_VIDEO_CAPS));

GType
gst_diffae_decode_noise_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_DIFFAE_DECODE_NOISE_FROM_STREAM,
          "x_T from the stream (needs has-xt=true: diffaeencode inversion-steps > 0)",
        "from-stream"},
    {GST_DIFFAE_DECODE_NOISE_FIXED,
        "One x_T drawn from the seed, the same for every frame", "fixed"},
    {GST_DIFFAE_DECODE_NOISE_PER_FRAME,
          "A new x_T for each frame, drawn from the seed and the frame number",
        "per-frame"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstDiffaeDecodeNoise", values);
    g_once_init_leave (&type, t);
  }
  return (GType) type;
}

#define gst_diffae_decode_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstDiffaeDecode, gst_diffae_decode,
    GST_TYPE_BASE_TRANSFORM,
    GST_DEBUG_CATEGORY_INIT (gst_diffae_decode_debug, "diffaedecode", 0,
        "diffae decoder"));
GST_ELEMENT_REGISTER_DEFINE (diffaedecode, "diffaedecode", GST_RANK_NONE,
    GST_TYPE_DIFFAE_DECODE);

static GstFlowReturn decode_frames (GstBaseTransform * trans, GstBuffer ** in,
    GstBuffer ** out, guint n);

static void
gst_diffae_decode_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (object);

  if (gst_diffae_model_settings_set (&self->settings, object, PROP_MODEL,
          prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_STEPS:
      self->steps = g_value_get_int (value);
      break;
    case PROP_NOISE:
      self->noise = g_value_get_enum (value);
      /* caps refused for want of x_T may fit now */
      gst_caps_replace (&self->refused_caps, NULL);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_BATCH:
      self->batch_size = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_diffae_decode_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (object);

  if (gst_diffae_model_settings_get (&self->settings, object, PROP_MODEL,
          prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_STEPS:
      g_value_set_int (value, self->steps);
      break;
    case PROP_NOISE:
      g_value_set_enum (value, self->noise);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_BATCH:
      g_value_set_uint (value, self->batch_size);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* The video this element outputs. Object lock held. */
static GstStructure *
video_structure (GstDiffaeDecode * self)
{
  GstStructure *s = gst_structure_new_empty ("video/x-raw");

  if (self->model) {
    gst_diffae_set_video_formats (s, self->model_info.channels);
    gst_structure_set (s, "width", G_TYPE_INT, self->model_info.image_size,
        "height", G_TYPE_INT, self->model_info.image_size,
        "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  } else {
    gst_diffae_set_video_formats (s, 1);
    gst_structure_set (s, "width", GST_TYPE_INT_RANGE, 1, G_MAXINT,
        "height", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
  }
  return s;
}

/* Latents of any model: a mismatch is found in the caps event, with a clear error, rather
 * than as an empty intersection somewhere upstream. */
static GstStructure *
latent_structure (void)
{
  GstCaps *tmpl = gst_static_pad_template_get_caps (&sink_template);
  GstStructure *s = gst_structure_copy (gst_caps_get_structure (tmpl, 0));

  gst_caps_unref (tmpl);
  gst_structure_remove_field (s, "framerate");
  return s;
}

static GstCaps *
gst_diffae_decode_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);
  GstCaps *ret = gst_caps_new_empty ();
  guint i;

  GST_OBJECT_LOCK (self);
  for (i = 0; i < gst_caps_get_size (caps); i++) {
    const GstStructure *in = gst_caps_get_structure (caps, i);
    const GValue *fr = gst_structure_get_value (in, "framerate");
    GstStructure *out = direction == GST_PAD_SINK ? video_structure (self) :
        latent_structure ();

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

/* Checks latent caps against the model and the noise mode; posts a negotiation error saying
 * what did not match. */
static gboolean
check_latent_caps (GstElement * element, GstCaps * caps)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (element);
  GstDiffaeLatentInfo li;
  const DaeModelInfo *mi = &self->model_info;
  const gchar *id = dae_model_id (self->model);
  const gchar *path = dae_model_path (self->model);
  gchar *why = NULL;
  gboolean from_stream;

  if (!gst_diffae_latent_info_from_caps (&li, caps, &why)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("%s", why),
        ("caps %" GST_PTR_FORMAT, caps));
    g_free (why);
    return FALSE;
  }
  if (li.has_xt && (li.xt_height != mi->image_size
          || li.xt_width != mi->image_size)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("latent %dx%d does not match model %dx%d (latents of model %s, "
            "%s is model %s)", li.xt_width, li.xt_height, mi->image_size,
            mi->image_size, li.model_id, path, id), (NULL));
    return FALSE;
  }
  if (li.z_channels != mi->z_channels) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("latent z_sem of %d values does not match the model's %d (latents of "
            "model %s, %s is model %s)", li.z_channels, mi->z_channels,
            li.model_id, path, id), (NULL));
    return FALSE;
  }
  if (li.has_xt && li.xt_channels != mi->channels) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("latent x_T of %d channels does not match the model's %d (latents "
            "of model %s, %s is model %s)", li.xt_channels, mi->channels,
            li.model_id, path, id), (NULL));
    return FALSE;
  }
  if (strcmp (li.model_id, id) != 0) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("latent model-id %s does not match model %s (%s): decode with the "
            "model that encoded the stream", li.model_id, id, path), (NULL));
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  from_stream = self->noise == GST_DIFFAE_DECODE_NOISE_FROM_STREAM;
  GST_OBJECT_UNLOCK (self);
  if (from_stream && !li.has_xt) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("noise=from-stream needs x_T in the stream, but the latents carry "
            "z_sem only (has-xt=false): set noise=fixed or per-frame, or "
            "inversion-steps > 0 on diffaeencode"), (NULL));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_diffae_decode_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);
  GstCaps *caps;
  gboolean ret;

  gst_diffae_batch_handle_event (&self->batch, trans, decode_frames, event);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS || !self->model)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);

  gst_event_parse_caps (event, &caps);
  if (!gst_diffae_caps_accepted (GST_ELEMENT (self), caps,
          check_latent_caps, &self->refused_caps)) {
    gst_event_unref (event);
    return FALSE;
  }
  ret = GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
  if (!ret) {
    GstCaps *peer = gst_pad_peer_query_caps (trans->srcpad, NULL);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("downstream does not accept %dx%d video, the model's size (add "
            "videoscale and videoconvert after diffaedecode)",
            self->model_info.image_size, self->model_info.image_size),
        ("downstream accepts %" GST_PTR_FORMAT, peer));
    if (peer)
      gst_caps_unref (peer);
  }
  return ret;
}

static gboolean
gst_diffae_decode_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);

  if (!self->model)
    return FALSE;
  /* Renegotiation (e.g. downstream asks for another format): the frames held for a batch
   * leave first, with the caps their outputs were made for. */
  gst_diffae_batch_drain (&self->batch, trans, decode_frames);
  if (!gst_diffae_latent_info_from_caps (&self->linfo, incaps, NULL)
      || !gst_video_info_from_caps (&self->vinfo, outcaps)
      || !gst_diffae_pixel_format (GST_VIDEO_INFO_FORMAT (&self->vinfo),
          &self->pixels))
    return FALSE;

  g_free (self->xt);
  self->xt = g_new (gfloat, gst_diffae_image_floats (&self->model_info));
  self->xt_valid = FALSE;
  GST_INFO_OBJECT (self, "decoding %" GST_PTR_FORMAT " to %" GST_PTR_FORMAT,
      incaps, outcaps);
  return TRUE;
}

static gboolean
gst_diffae_decode_get_unit_size (GstBaseTransform * trans, GstCaps * caps,
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

/* One video frame per latent, whatever the latent's size (a corrupt one is reported by
 * transform). */
static gboolean
gst_diffae_decode_transform_size (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, gsize size, GstCaps * othercaps,
    gsize * othersize)
{
  return gst_diffae_decode_get_unit_size (trans, othercaps, othersize);
}

/* The frame number that per-frame noise uses: from the PTS and the framerate, so that a
 * frame gets the same noise in every run and after seeks; else frames counted from start
 * (`index`: this frame's count). */
static guint64
frame_number (GstDiffaeDecode * self, GstBuffer * buf, guint64 index)
{
  if (GST_BUFFER_PTS_IS_VALID (buf) && self->linfo.fps_n > 0)
    return gst_util_uint64_scale_round (GST_BUFFER_PTS (buf),
        self->linfo.fps_n, (guint64) self->linfo.fps_d * GST_SECOND);
  return index;
}

/* Copies the noise of (seed, stream) into dst, drawing it only when it is not the last
 * drawn (noise=fixed draws once). */
static void
copy_drawn_noise (GstDiffaeDecode * self, guint64 seed, guint64 stream,
    gfloat * dst, gsize len)
{
  if (!self->xt_valid || self->xt_seed != seed || self->xt_stream != stream) {
    dae_gaussian_noise (seed, stream, self->xt, len);
    self->xt_seed = seed;
    self->xt_stream = stream;
    self->xt_valid = TRUE;
  }
  memcpy (dst, self->xt, len * sizeof *dst);
}

/* z_sem and x_T of frame i of the batch into the batch arrays; FALSE (error posted) for a
 * corrupt latent or a stream without the x_T that noise=from-stream needs. */
static gboolean
gather_latent (GstDiffaeDecode * self, GstBuffer * inbuf, guint i,
    GstDiffaeDecodeNoise noise, guint64 seed)
{
  gsize zlen = self->model_info.z_channels;
  gsize xlen = gst_diffae_image_floats (&self->model_info);
  gfloat *xt = self->arrays.xt + xlen * i;
  GstDiffaeLatentMap map;
  gboolean has_xt;
  gchar *why = NULL;

  if (!gst_diffae_latent_buffer_map (inbuf, &self->linfo, GST_MAP_READ, &map,
          &why)) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("%s", why),
        ("buffer %" GST_PTR_FORMAT, inbuf));
    g_free (why);
    return FALSE;
  }
  memcpy (self->arrays.z + zlen * i, map.z, zlen * sizeof (gfloat));
  has_xt = map.xt != NULL;
  if (noise == GST_DIFFAE_DECODE_NOISE_FIXED)
    copy_drawn_noise (self, seed, 0, xt, xlen);
  else if (noise == GST_DIFFAE_DECODE_NOISE_PER_FRAME)
    copy_drawn_noise (self, seed, frame_number (self, inbuf, self->frames + i), xt,
        xlen);
  else if (map.xt)
    memcpy (xt, map.xt, xlen * sizeof (gfloat));
  gst_diffae_latent_buffer_unmap (&map);
  if (noise == GST_DIFFAE_DECODE_NOISE_FROM_STREAM && !has_xt) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE,
        ("noise=from-stream needs x_T in the stream, but the latents carry "
            "z_sem only (has-xt=false)"), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* Decoded image i of the batch into a video frame. */
static gboolean
write_frame (GstDiffaeDecode * self, GstBuffer * outbuf, guint i)
{
  gsize image = gst_diffae_image_floats (&self->model_info);
  GstVideoFrame frame;

  if (!gst_video_frame_map (&frame, &self->vinfo, outbuf, GST_MAP_WRITE)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map a video frame"),
        (NULL));
    return FALSE;
  }
  dae_float_to_pixels (self->arrays.images + image * i, self->model_info.channels,
      self->model_info.image_size, self->pixels,
      GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
      GST_VIDEO_FRAME_PLANE_DATA (&frame, 0));
  gst_video_frame_unmap (&frame);
  return TRUE;
}

/* n latents to n frames through one dae_decode call (GstDiffaeBatchRun). */
static GstFlowReturn
decode_frames (GstBaseTransform * trans, GstBuffer ** in, GstBuffer ** out, guint n)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);
  gint64 start = g_get_monotonic_time ();
  GstDiffaeDecodeNoise noise;
  guint64 seed;
  gint steps;
  DaeError err = { 0 };
  guint i;

  GST_OBJECT_LOCK (self);
  noise = self->noise;
  seed = self->seed;
  steps = self->steps;
  GST_OBJECT_UNLOCK (self);

  gst_diffae_batch_arrays_ensure (&self->arrays, &self->model_info, n);
  for (i = 0; i < n; i++)
    if (!gather_latent (self, in[i], i, noise, seed))
      return GST_FLOW_ERROR;
  if (dae_decode (self->session, (int) n, self->arrays.z, self->arrays.xt, steps,
          self->arrays.images, &err) != DAE_OK) {
    GST_DIFFAE_POST_DAE_ERROR (self, &err, "Decoding failed");
    return GST_FLOW_ERROR;
  }
  for (i = 0; i < n; i++)
    if (!write_frame (self, out[i], i))
      return GST_FLOW_ERROR;
  self->frames += n;

  gst_diffae_latency_record (GST_ELEMENT (self), &self->latency, start);
  GST_LOG_OBJECT (self, "decoded %u frame(s) from %" GST_TIME_FORMAT " in %.1f ms",
      n, GST_TIME_ARGS (GST_BUFFER_PTS (in[0])),
      (g_get_monotonic_time () - start) / 1000.0);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_diffae_decode_transform (GstBaseTransform * trans, GstBuffer * inbuf,
    GstBuffer * outbuf)
{
  return decode_frames (trans, &inbuf, &outbuf, 1);
}

static GstFlowReturn
gst_diffae_decode_generate_output (GstBaseTransform * trans, GstBuffer ** outbuf)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);
  guint size;

  GST_OBJECT_LOCK (self);
  size = self->batch_size;
  GST_OBJECT_UNLOCK (self);
  return gst_diffae_batch_generate_output (&self->batch, trans,
      GST_BASE_TRANSFORM_CLASS (parent_class), size, decode_frames, outbuf);
}

static gboolean
gst_diffae_decode_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);
  gboolean result;
  guint size;

  if (gst_diffae_transform_latency_query (trans,
          GST_BASE_TRANSFORM_CLASS (parent_class), direction, query,
          &self->latency, &result)) {
    GST_OBJECT_LOCK (self);
    size = self->batch_size;
    GST_OBJECT_UNLOCK (self);
    if (result)
      gst_diffae_batch_add_latency (query, size, self->linfo.fps_n,
          self->linfo.fps_d);
    return result;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
      query);
}

static gboolean
gst_diffae_decode_start (GstBaseTransform * trans)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);
  DaeSession *session = NULL;
  DaeModel *model;
  gint steps;

  GST_OBJECT_LOCK (self);
  steps = self->steps;
  GST_OBJECT_UNLOCK (self);
  if (!gst_diffae_check_steps (GST_ELEMENT (self), steps))
    return FALSE;
  model = gst_diffae_model_open (GST_ELEMENT (self), &self->settings, &session);
  if (!model)
    return FALSE;

  GST_OBJECT_LOCK (self);
  self->model = model;
  self->session = session;
  dae_model_info (model, &self->model_info);
  self->frames = 0;
  self->xt_valid = FALSE;
  gst_diffae_latency_reset (&self->latency);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_diffae_decode_stop (GstBaseTransform * trans)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (trans);
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
  g_clear_pointer (&self->xt, g_free);
  return TRUE;
}

static void
gst_diffae_decode_finalize (GObject * object)
{
  GstDiffaeDecode *self = GST_DIFFAE_DECODE (object);

  gst_diffae_model_settings_clear (&self->settings);
  gst_diffae_batch_free (&self->batch);
  gst_diffae_batch_arrays_clear (&self->arrays);
  g_free (self->xt);
  gst_caps_replace (&self->refused_caps, NULL);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_diffae_decode_class_init (GstDiffaeDecodeClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_diffae_decode_set_property;
  gobject_class->get_property = gst_diffae_decode_get_property;
  gobject_class->finalize = gst_diffae_decode_finalize;

  gst_diffae_model_settings_install (gobject_class, PROP_MODEL);
  g_object_class_install_property (gobject_class, PROP_STEPS,
      g_param_spec_int ("steps", "Steps",
          "DDIM sampling steps per frame (more: slower and closer to the "
          "model's best; use the encoder's inversion-steps to reconstruct)",
          1, MAX_STEPS, DEFAULT_STEPS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_NOISE,
      g_param_spec_enum ("noise", "Noise",
          "Where the stochastic code x_T comes from",
          GST_TYPE_DIFFAE_DECODE_NOISE, DEFAULT_NOISE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Seed of the drawn x_T (noise=fixed: stream 0; noise=per-frame: "
          "stream = frame number, round(PTS x framerate))", 0, G_MAXUINT64,
          DEFAULT_SEED, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  gst_diffae_batch_install_property (gobject_class, PROP_BATCH);
  gst_type_mark_as_plugin_api (GST_TYPE_DIFFAE_DECODE_NOISE, 0);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "diffae decoder", "Filter/Decoder/Video",
      "Decodes Diffusion Autoencoder latents into video frames by DDIM "
      "sampling", "diffae authors");

  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_diffae_decode_transform_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_diffae_decode_sink_event);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_diffae_decode_set_caps);
  trans_class->get_unit_size =
      GST_DEBUG_FUNCPTR (gst_diffae_decode_get_unit_size);
  trans_class->transform_size =
      GST_DEBUG_FUNCPTR (gst_diffae_decode_transform_size);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_diffae_decode_transform);
  trans_class->generate_output =
      GST_DEBUG_FUNCPTR (gst_diffae_decode_generate_output);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_diffae_decode_query);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_diffae_decode_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_diffae_decode_stop);
  trans_class->passthrough_on_same_caps = FALSE;
}

static void
gst_diffae_decode_init (GstDiffaeDecode * self)
{
  gst_diffae_model_settings_init (&self->settings);
  self->steps = DEFAULT_STEPS;
  self->noise = DEFAULT_NOISE;
  self->seed = DEFAULT_SEED;
  self->batch_size = 1;
  gst_diffae_batch_init (&self->batch);
  gst_diffae_latency_reset (&self->latency);
}
