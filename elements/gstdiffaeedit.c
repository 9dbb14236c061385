/* diffaeedit: moves z_sem along attribute directions stored with the model.
 * Copyright (C) 2025 the diffae authors
 * SPDX-License-Identifier: MIT
 */
/**
 * SECTION:element-diffaeedit
 * @title: diffaeedit
 *
 * Edits latents by named attributes: each attribute of the model (a linear classifier
 * direction w on normalised z_sem, doc/weights.md) moves z_sem to
 * denorm(norm(z) + strength * sqrt(d) * w / |w|), the published manipulation (useful
 * strengths about -0.5 to 0.5). #GstDiffaeEdit:edits names several at once
 * ("smiling=0.3,eyeglasses=-0.2"); #GstDiffaeEdit:attribute with #GstDiffaeEdit:strength
 * adds one more whose strength is controllable, so it can ramp over a clip
 * (GstInterpolationControlSource). Unknown attribute names are an error listing the
 * model's attributes.
 *
 * Only z_sem (memory 0) is replaced; x_T (memory 1) is shared with the input buffer.
 * All strengths 0 pass z_sem through unchanged.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=10 ! videoconvert ! videoscale ! \
 *     diffaeencode model=model.safetensors ! \
 *     diffaeedit model=model.safetensors edits="bright=0.3,round=-0.2" ! \
 *     diffaedecode model=model.safetensors ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiffaeedit.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_diffae_edit_debug);
#define GST_CAT_DEFAULT gst_diffae_edit_debug

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_DEVICE,
  PROP_EDITS,
  PROP_ATTRIBUTE,
  PROP_STRENGTH,
};

#define DEFAULT_EDITS NULL
#define DEFAULT_ATTRIBUTE NULL
#define DEFAULT_STRENGTH 0.0f
#define MAX_STRENGTH 100.0f

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_LATENT_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_DIFFAE_LATENT_CAPS));

#define gst_diffae_edit_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstDiffaeEdit, gst_diffae_edit,
    GST_TYPE_BASE_TRANSFORM,
    GST_DEBUG_CATEGORY_INIT (gst_diffae_edit_debug, "diffaeedit", 0,
        "diffae attribute editing"));
GST_ELEMENT_REGISTER_DEFINE (diffaeedit, "diffaeedit", GST_RANK_NONE,
    GST_TYPE_DIFFAE_EDIT);

static void
gst_diffae_edit_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (object);

  if (gst_diffae_model_settings_set (&self->settings, object, PROP_MODEL,
          prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_EDITS:
      g_free (self->edits);
      self->edits = g_value_dup_string (value);
      break;
    case PROP_ATTRIBUTE:
      g_free (self->attribute);
      self->attribute = g_value_dup_string (value);
      break;
    case PROP_STRENGTH:
      self->strength = g_value_get_float (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_diffae_edit_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (object);

  if (gst_diffae_model_settings_get (&self->settings, object, PROP_MODEL,
          prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_EDITS:
      g_value_set_string (value, self->edits);
      break;
    case PROP_ATTRIBUTE:
      g_value_set_string (value, self->attribute);
      break;
    case PROP_STRENGTH:
      g_value_set_float (value, self->strength);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* The edits asked for: the pairs of the edits property, then attribute=strength. names
 * owns its strings. FALSE with a message in why for a malformed edits string. */
static gboolean
collect_edits (GstDiffaeEdit * self, GPtrArray * names, GArray * strengths,
    gchar ** why)
{
  gchar **items = NULL;
  gboolean ok = TRUE;
  guint i;

  GST_OBJECT_LOCK (self);
  if (self->edits)
    items = g_strsplit (self->edits, ",", -1);
  for (i = 0; ok && items && items[i]; i++) {
    gchar *item = g_strstrip (items[i]), *eq = strchr (item, '='), *end;
    gchar *name;
    gdouble v;
    gfloat f;

    if (!*item)
      continue;
    if (!eq) {
      *why = g_strdup_printf ("edit \"%s\" is not NAME=STRENGTH (edits=\"%s\")",
          item, self->edits);
      ok = FALSE;
      break;
    }
    *eq = '\0';
    name = g_strstrip (item);
    v = g_ascii_strtod (eq + 1, &end);
    while (*end == ' ' || *end == '\t')
      end++;
    if (!*name || end == eq + 1 || *end || !isfinite (v)
        || fabs (v) > MAX_STRENGTH) {
      *why = g_strdup_printf ("edit \"%s=%s\" is not NAME=STRENGTH with a "
          "strength between -%g and %g (edits=\"%s\")", name, eq + 1,
          MAX_STRENGTH, MAX_STRENGTH, self->edits);
      ok = FALSE;
      break;
    }
    f = (gfloat) v;
    g_ptr_array_add (names, g_strdup (name));
    g_array_append_val (strengths, f);
  }
  if (ok && self->attribute && *self->attribute) {
    g_ptr_array_add (names, g_strdup (self->attribute));
    g_array_append_val (strengths, self->strength);
  }
  GST_OBJECT_UNLOCK (self);
  g_strfreev (items);
  return ok;
}

/* Checks the edits against the model; FALSE with a message in why. */
static gboolean
check_edits (GstDiffaeEdit * self, GPtrArray * names, gchar ** why)
{
  guint i;
  gint a;

  if (names->len > 0 && !self->model_info.has_latent_stats) {
    *why = g_strdup_printf ("model %s has no latent statistics "
        "(latent.mean/latent.std): it cannot edit",
        dae_model_path (self->model));
    return FALSE;
  }
  for (i = 0; i < names->len; i++) {
    const gchar *name = g_ptr_array_index (names, i);
    if (dae_model_find_attribute (self->model, name) < 0) {
      GString *known = g_string_new (NULL);
      for (a = 0; a < self->model_info.n_attributes; a++)
        g_string_append_printf (known, "%s%s", a ? ", " : "",
            dae_model_attribute (self->model, a));
      *why = g_strdup_printf ("unknown attribute \"%s\": model %s knows %s",
          name, dae_model_path (self->model),
          known->len ? known->str : "no attributes");
      g_string_free (known, TRUE);
      return FALSE;
    }
  }
  return TRUE;
}

static GstCaps *
gst_diffae_edit_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  if (filter)
    return gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
  return gst_caps_ref (caps);
}

static gboolean
gst_diffae_edit_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (trans);
  GstDiffaeLatentInfo li;
  GstCaps *caps;
  gchar *why = NULL;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS || !self->model)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);

  gst_event_parse_caps (event, &caps);
  if (!gst_diffae_latent_info_from_caps (&li, caps, &why)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("%s", why),
        ("caps %" GST_PTR_FORMAT, caps));
    g_free (why);
    gst_event_unref (event);
    return FALSE;
  }
  if (strcmp (li.model_id, dae_model_id (self->model)) != 0
      || li.z_channels != self->model_info.z_channels) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("latent model-id %s (z_sem %d) does not match model %s (%s, z_sem "
            "%d): edit with the model that encoded the stream", li.model_id,
            li.z_channels, dae_model_id (self->model),
            dae_model_path (self->model), self->model_info.z_channels), (NULL));
    gst_event_unref (event);
    return FALSE;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_diffae_edit_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (trans);

  self->have_linfo = gst_diffae_latent_info_from_caps (&self->linfo, incaps,
      NULL);
  return self->have_linfo;
}

static gboolean
gst_diffae_edit_get_unit_size (GstBaseTransform * trans, GstCaps * caps,
    gsize * size)
{
  GstDiffaeLatentInfo li;

  if (!gst_diffae_latent_info_from_caps (&li, caps, NULL))
    return FALSE;
  *size = gst_diffae_latent_info_size (&li);
  return TRUE;
}

/* Syncs the controllable strength to the buffer's stream time. */
static void
gst_diffae_edit_before_transform (GstBaseTransform * trans, GstBuffer * buf)
{
  GstClockTime stream_time = gst_segment_to_stream_time (&trans->segment,
      GST_FORMAT_TIME, GST_BUFFER_PTS (buf));

  if (GST_CLOCK_TIME_IS_VALID (stream_time))
    gst_object_sync_values (GST_OBJECT (trans), stream_time);
}

/* A new z_sem memory, the input's x_T memory shared. */
static GstFlowReturn
gst_diffae_edit_prepare_output_buffer (GstBaseTransform * trans,
    GstBuffer * inbuf, GstBuffer ** outbuf)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (trans);
  GstBaseTransformClass *klass = GST_BASE_TRANSFORM_GET_CLASS (trans);
  GstAllocationParams params;
  gsize zb, xb;
  gchar *why = NULL;

  if (!self->have_linfo)
    return GST_FLOW_NOT_NEGOTIATED;
  if (!gst_diffae_latent_buffer_check_layout (inbuf, &self->linfo, &why)) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("%s", why),
        ("buffer %" GST_PTR_FORMAT, inbuf));
    g_free (why);
    return GST_FLOW_ERROR;
  }
  zb = gst_diffae_latent_info_z_bytes (&self->linfo);
  xb = gst_diffae_latent_info_xt_bytes (&self->linfo);
  gst_allocation_params_init (&params);
  params.align = 15;
  *outbuf = gst_buffer_new ();
  gst_buffer_append_memory (*outbuf, gst_allocator_alloc (NULL, zb, &params));
  if (self->linfo.has_xt) {
    if (gst_buffer_n_memory (inbuf) == 2)
      gst_buffer_append_memory (*outbuf,
          gst_memory_ref (gst_buffer_peek_memory (inbuf, 1)));
    else                        /* one memory holding z_sem then x_T */
      gst_buffer_append_memory (*outbuf,
          gst_memory_share (gst_buffer_peek_memory (inbuf, 0), zb, xb));
  }
  if (klass->copy_metadata)
    klass->copy_metadata (trans, inbuf, *outbuf);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_diffae_edit_transform (GstBaseTransform * trans, GstBuffer * inbuf,
    GstBuffer * outbuf)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (trans);
  gint64 start = g_get_monotonic_time ();
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GArray *strengths = g_array_new (FALSE, FALSE, sizeof (gfloat));
  GPtrArray *active_names = g_ptr_array_new ();
  GArray *active = g_array_new (FALSE, FALSE, sizeof (gfloat));
  GstFlowReturn ret = GST_FLOW_ERROR;
  GstDiffaeLatentMap in;
  GstMemory *zmem = gst_buffer_peek_memory (outbuf, 0);
  GstMapInfo out;
  DaeError err = { 0 };
  gchar *why = NULL;
  guint i;

  if (!collect_edits (self, names, strengths, &why)
      || !check_edits (self, names, &why)) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("%s", why), (NULL));
    goto done;
  }
  for (i = 0; i < names->len; i++)
    if (g_array_index (strengths, gfloat, i) != 0.0f) {
      g_ptr_array_add (active_names, g_ptr_array_index (names, i));
      g_array_append_val (active, g_array_index (strengths, gfloat, i));
    }

  if (!gst_diffae_latent_buffer_map (inbuf, &self->linfo, GST_MAP_READ, &in,
          &why)) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("%s", why),
        ("buffer %" GST_PTR_FORMAT, inbuf));
    goto done;
  }
  if (!gst_memory_map (zmem, &out, GST_MAP_WRITE)) {
    gst_diffae_latent_buffer_unmap (&in);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not map z_sem"), (NULL));
    goto done;
  }
  if (active->len == 0) {
    memcpy (out.data, in.z, out.size);
    ret = GST_FLOW_OK;
  } else if (dae_edit (self->model, in.z, (gint) active->len,
          (const char *const *) active_names->pdata,
          (const float *) active->data, (float *) out.data, &err) == DAE_OK) {
    ret = GST_FLOW_OK;
  } else {
    GST_DIFFAE_POST_DAE_ERROR (self, &err, "Editing failed");
  }
  gst_memory_unmap (zmem, &out);
  gst_diffae_latent_buffer_unmap (&in);
  if (ret == GST_FLOW_OK)
    gst_diffae_latency_record (GST_ELEMENT (self), &self->latency, start);

done:
  g_free (why);
  g_ptr_array_unref (active_names);
  g_array_unref (active);
  g_ptr_array_unref (names);
  g_array_unref (strengths);
  return ret;
}

static gboolean
gst_diffae_edit_query (GstBaseTransform * trans, GstPadDirection direction,
    GstQuery * query)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (trans);
  gboolean result;

  if (gst_diffae_transform_latency_query (trans,
          GST_BASE_TRANSFORM_CLASS (parent_class), direction, query,
          &self->latency, &result))
    return result;
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
      query);
}

static gboolean
gst_diffae_edit_start (GstBaseTransform * trans)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (trans);
  DaeModel *model;
  GPtrArray *names;
  GArray *strengths;
  gchar *why = NULL;
  gboolean ok;

  model = gst_diffae_model_open (GST_ELEMENT (self), &self->settings, NULL);
  if (!model)
    return FALSE;
  GST_OBJECT_LOCK (self);
  self->model = model;
  dae_model_info (model, &self->model_info);
  self->have_linfo = FALSE;
  gst_diffae_latency_reset (&self->latency);
  GST_OBJECT_UNLOCK (self);

  /* Bad edits are reported now rather than at the first frame. */
  names = g_ptr_array_new_with_free_func (g_free);
  strengths = g_array_new (FALSE, FALSE, sizeof (gfloat));
  ok = collect_edits (self, names, strengths, &why)
      && check_edits (self, names, &why);
  g_ptr_array_unref (names);
  g_array_unref (strengths);
  if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("%s", why), (NULL));
    g_free (why);
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_diffae_edit_stop (GstBaseTransform * trans)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (trans);
  DaeModel *model;

  GST_OBJECT_LOCK (self);
  model = g_steal_pointer (&self->model);
  self->have_linfo = FALSE;
  GST_OBJECT_UNLOCK (self);
  gst_diffae_model_close (model, NULL);
  return TRUE;
}

static void
gst_diffae_edit_finalize (GObject * object)
{
  GstDiffaeEdit *self = GST_DIFFAE_EDIT (object);

  gst_diffae_model_settings_clear (&self->settings);
  g_free (self->edits);
  g_free (self->attribute);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_diffae_edit_class_init (GstDiffaeEditClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_diffae_edit_set_property;
  gobject_class->get_property = gst_diffae_edit_get_property;
  gobject_class->finalize = gst_diffae_edit_finalize;

  gst_diffae_model_settings_install (gobject_class, PROP_MODEL);
  g_object_class_install_property (gobject_class, PROP_EDITS,
      g_param_spec_string ("edits", "Edits",
          "Attribute edits as NAME=STRENGTH pairs separated by commas, e.g. "
          "\"smiling=0.3,eyeglasses=-0.2\"; names are the model's attribute "
          "directions, useful strengths about -0.5..0.5", DEFAULT_EDITS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ATTRIBUTE,
      g_param_spec_string ("attribute", "Attribute",
          "One more attribute to edit, with the controllable strength "
          "property (NULL: none)", DEFAULT_ATTRIBUTE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STRENGTH,
      g_param_spec_float ("strength", "Strength",
          "Strength of the edit of attribute, in units of sqrt(d) along the "
          "normalised direction (controllable: may ramp over time)",
          -MAX_STRENGTH, MAX_STRENGTH, DEFAULT_STRENGTH,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_CONTROLLABLE | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "diffae attribute editor", "Filter/Effect/Video",
      "Moves Diffusion Autoencoder latents along named attribute directions "
      "stored with the model", "diffae authors");

  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_diffae_edit_transform_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_diffae_edit_sink_event);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_diffae_edit_set_caps);
  trans_class->get_unit_size =
      GST_DEBUG_FUNCPTR (gst_diffae_edit_get_unit_size);
  trans_class->before_transform =
      GST_DEBUG_FUNCPTR (gst_diffae_edit_before_transform);
  trans_class->prepare_output_buffer =
      GST_DEBUG_FUNCPTR (gst_diffae_edit_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_diffae_edit_transform);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_diffae_edit_query);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_diffae_edit_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_diffae_edit_stop);
  trans_class->passthrough_on_same_caps = FALSE;
}

static void
gst_diffae_edit_init (GstDiffaeEdit * self)
{
  gst_diffae_model_settings_init (&self->settings);
  self->strength = DEFAULT_STRENGTH;
  gst_diffae_latency_reset (&self->latency);
}
