/* diffae GStreamer plugin: backend enum, shared model cache, errors, latency. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiffaecommon.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef DIFFAE_DEFAULT_MODEL
#define DIFFAE_DEFAULT_MODEL "/usr/local/share/diffae/weights/shapes.safetensors"
#endif

GST_DEBUG_CATEGORY_STATIC (gst_diffae_common_debug);
#define GST_CAT_DEFAULT gst_diffae_common_debug

GType
gst_diffae_backend_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_DIFFAE_BACKEND_AUTO,
          "A Vulkan GPU if there is one, else the CPU ($DIFFAE_BACKEND first)",
        "auto"},
    {GST_DIFFAE_BACKEND_CPU, "The CPU backend (OpenBLAS and threads)", "cpu"},
    {GST_DIFFAE_BACKEND_VULKAN, "Any Vulkan device (also a CPU driver)",
        "vulkan"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstDiffaeBackend", values);
    g_once_init_leave (&type, t);
  }
  return (GType) type;
}

const gchar *
gst_diffae_default_model_path (void)
{
  return DIFFAE_DEFAULT_MODEL;
}

/* ---- properties ----------------------------------------------------------------------- */

void
gst_diffae_model_settings_init (GstDiffaeModelSettings * s)
{
  s->model = g_strdup (gst_diffae_default_model_path ());
  s->backend = GST_DIFFAE_BACKEND_AUTO;
  s->device = NULL;
}

void
gst_diffae_model_settings_clear (GstDiffaeModelSettings * s)
{
  g_clear_pointer (&s->model, g_free);
  g_clear_pointer (&s->device, g_free);
}

void
gst_diffae_model_settings_install (GObjectClass * klass, guint first)
{
  g_object_class_install_property (klass, first,
      g_param_spec_string ("model", "Model",
          "Path of the diffae weights file (safetensors, doc/weights.md); "
          "the default is the model installed with the plugin",
          gst_diffae_default_model_path (),
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (klass, first + 1,
      g_param_spec_enum ("backend", "Backend",
          "Compute backend that runs the model; elements with the same model, "
          "backend and device share one copy of the weights",
          GST_TYPE_DIFFAE_BACKEND, GST_DIFFAE_BACKEND_AUTO,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (klass, first + 2,
      g_param_spec_string ("device", "Device",
          "Vulkan device by index or name substring (NULL: $DIFFAE_DEVICE, "
          "then the best one); ignored by the CPU backend", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  gst_type_mark_as_plugin_api (GST_TYPE_DIFFAE_BACKEND, 0);
}

gboolean
gst_diffae_model_settings_set (GstDiffaeModelSettings * s, GObject * obj,
    guint first, guint prop_id, const GValue * value)
{
  if (prop_id < first || prop_id > first + 2)
    return FALSE;
  GST_OBJECT_LOCK (obj);
  if (prop_id == first) {
    g_free (s->model);
    s->model = g_value_dup_string (value);
  } else if (prop_id == first + 1) {
    s->backend = g_value_get_enum (value);
  } else {
    g_free (s->device);
    s->device = g_value_dup_string (value);
  }
  GST_OBJECT_UNLOCK (obj);
  return TRUE;
}

gboolean
gst_diffae_model_settings_get (GstDiffaeModelSettings * s, GObject * obj,
    guint first, guint prop_id, GValue * value)
{
  if (prop_id < first || prop_id > first + 2)
    return FALSE;
  GST_OBJECT_LOCK (obj);
  if (prop_id == first)
    g_value_set_string (value, s->model);
  else if (prop_id == first + 1)
    g_value_set_enum (value, s->backend);
  else
    g_value_set_string (value, s->device);
  GST_OBJECT_UNLOCK (obj);
  return TRUE;
}

/* ---- the cache ------------------------------------------------------------------------ */

typedef struct
{
  gchar *key;
  DaeBackend *backend;
  guint users;                  /* cached models on it */
} BackendEntry;

typedef struct
{
  gchar *key;
  DaeModel *model;
  BackendEntry *backend;
  guint users;                  /* elements holding it */
} ModelEntry;

static GMutex cache_lock;
static GHashTable *backends;    /* key -> BackendEntry */
static GHashTable *models;      /* key -> ModelEntry */

static void
ensure_cache (void)
{
  if (!models) {
    backends = g_hash_table_new (g_str_hash, g_str_equal);
    models = g_hash_table_new (g_str_hash, g_str_equal);
    GST_DEBUG_CATEGORY_INIT (gst_diffae_common_debug, "diffae", 0,
        "diffae plugin: model cache");
  }
}

static DaeBackendKind
dae_kind (GstDiffaeBackend b)
{
  switch (b) {
    case GST_DIFFAE_BACKEND_CPU:
      return DAE_BACKEND_CPU;
    case GST_DIFFAE_BACKEND_VULKAN:
      return DAE_BACKEND_VULKAN;
    default:
      return DAE_BACKEND_AUTO;
  }
}

void
gst_diffae_error_domain (DaeStatus status, GQuark * domain, gint * code)
{
  switch (status) {
    case DAE_ERR_IO:
      *domain = GST_RESOURCE_ERROR;
      *code = GST_RESOURCE_ERROR_OPEN_READ;
      break;
    case DAE_ERR_FORMAT:
      *domain = GST_RESOURCE_ERROR;
      *code = GST_RESOURCE_ERROR_READ;
      break;
    case DAE_ERR_NO_DEVICE:
      *domain = GST_RESOURCE_ERROR;
      *code = GST_RESOURCE_ERROR_NOT_FOUND;
      break;
    case DAE_ERR_INVALID:
      *domain = GST_LIBRARY_ERROR;
      *code = GST_LIBRARY_ERROR_SETTINGS;
      break;
    case DAE_ERR_OUT_OF_MEMORY:
      *domain = GST_RESOURCE_ERROR;
      *code = GST_RESOURCE_ERROR_NO_SPACE_LEFT;
      break;
    default:                   /* device, device lost, validation, interrupted */
      *domain = GST_RESOURCE_ERROR;
      *code = GST_RESOURCE_ERROR_FAILED;
      break;
  }
}

static void
set_dae_error (GError ** error, const DaeError * err, const gchar * what)
{
  GQuark domain;
  gint code;

  gst_diffae_error_domain (err->code, &domain, &code);
  g_set_error (error, domain, code, "%s: %s", what, err->message);
}

static BackendEntry *
get_backend (const GstDiffaeModelSettings * s, GError ** error)
{
  gchar *key = g_strdup_printf ("%d|%s", (gint) s->backend,
      s->device ? s->device : "");
  BackendEntry *e = g_hash_table_lookup (backends, key);
  DaeBackendOptions opts = { 0 };
  DaeBackend *be = NULL;
  DaeError err = { 0 };

  if (e) {
    g_free (key);
    return e;
  }
  opts.kind = dae_kind (s->backend);
  opts.device = s->device;
  if (dae_backend_open (&opts, &be, &err) != DAE_OK) {
    gchar *what = g_strdup_printf ("Could not open the %s backend%s%s",
        dae_backend_kind_name (opts.kind), s->device ? " on device " : "",
        s->device ? s->device : "");
    set_dae_error (error, &err, what);
    g_free (what);
    g_free (key);
    return NULL;
  }
  GST_INFO ("opened backend %s", dae_backend_description (be));
  e = g_new0 (BackendEntry, 1);
  e->key = key;
  e->backend = be;
  g_hash_table_insert (backends, e->key, e);
  return e;
}

static void
unuse_backend (BackendEntry * e)
{
  if (e->users > 0 || !g_hash_table_remove (backends, e->key))
    return;
  GST_INFO ("closing backend %s", dae_backend_description (e->backend));
  dae_backend_unref (e->backend);
  g_free (e->key);
  g_free (e);
}

static void
post_progress (GstElement * element, GstProgressType type, const gchar * text)
{
  if (element)
    gst_element_post_message (element,
        gst_message_new_progress (GST_OBJECT (element), type, "model-load",
            text));
}

/* A new reference to the cached model of key (one more user), or NULL. */
static DaeModel *
lookup_shared (GstElement * element, const gchar * key)
{
  ModelEntry *e;
  DaeModel *model = NULL;
  guint users = 0;

  g_mutex_lock (&cache_lock);
  ensure_cache ();
  e = g_hash_table_lookup (models, key);
  if (e) {
    users = ++e->users;
    model = dae_model_ref (e->model);
  }
  g_mutex_unlock (&cache_lock);
  if (model)
    GST_DEBUG_OBJECT (element, "sharing model %s (%u users)",
        dae_model_path (model), users);
  return model;
}

DaeModel *
gst_diffae_model_acquire (GstElement * element,
    const GstDiffaeModelSettings * s, GError ** error)
{
  GStatBuf st;
  gchar *real = NULL, *key = NULL, *text;
  ModelEntry *e;
  BackendEntry *be;
  DaeModel *model = NULL;
  DaeError err = { 0 };
  gboolean is_default, stat_ok;

  if (!s->model || !*s->model) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "No model file: set the model property to a diffae weights file");
    return NULL;
  }
  is_default = g_strcmp0 (s->model, gst_diffae_default_model_path ()) == 0;
  stat_ok = g_stat (s->model, &st) == 0;
  if (!stat_ok || !S_ISREG (st.st_mode)) {
    const gchar *why = stat_ok ? "not a regular file" : g_strerror (errno);
    if (is_default)
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "The default model %s is not installed (%s): set the model "
          "property to a diffae weights file", s->model, why);
    else
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "Model file %s cannot be used: %s", s->model, why);
    return NULL;
  }
  real = realpath (s->model, NULL);
  /* The file's identity and version are in the key: a file replaced on disk loads anew. */
  key = g_strdup_printf ("%s|%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT "|%"
      G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%d|%s", real ? real : s->model,
      (guint64) st.st_dev, (guint64) st.st_ino, (gint64) st.st_size,
      (gint64) st.st_mtime, (gint) s->backend, s->device ? s->device : "");
  free (real);

  /* Shared already? Else announce the load (messages are posted outside the lock: a bus
   * sync handler may well start another element) and look again under the lock. */
  model = lookup_shared (element, key);
  if (model) {
    g_free (key);
    return model;
  }
  text = g_strdup_printf ("Loading model %s", s->model);
  post_progress (element, GST_PROGRESS_TYPE_START, text);
  g_free (text);

  g_mutex_lock (&cache_lock);
  ensure_cache ();
  e = g_hash_table_lookup (models, key);
  if (e) {
    e->users++;
    model = dae_model_ref (e->model);
    g_mutex_unlock (&cache_lock);
    post_progress (element, GST_PROGRESS_TYPE_COMPLETE, "Model shared");
    g_free (key);
    return model;
  }
  be = get_backend (s, error);
  if (be && dae_model_load (be->backend, s->model, &model, &err) != DAE_OK) {
    text = g_strdup_printf ("Could not load model %s", s->model);
    set_dae_error (error, &err, text);
    g_free (text);
    model = NULL;
  }
  if (!model) {
    if (be)
      unuse_backend (be);
    g_mutex_unlock (&cache_lock);
    post_progress (element, GST_PROGRESS_TYPE_ERROR, "Model not loaded");
    g_free (key);
    return NULL;
  }
  e = g_new0 (ModelEntry, 1);
  e->key = key;
  e->model = model;
  e->backend = be;
  e->users = 1;
  be->users++;
  g_hash_table_insert (models, e->key, e);
  g_mutex_unlock (&cache_lock);

  GST_INFO_OBJECT (element, "loaded model %s (id %s) on %s", s->model,
      dae_model_id (model), dae_backend_description (be->backend));
  post_progress (element, GST_PROGRESS_TYPE_COMPLETE, "Model loaded");
  return dae_model_ref (model);
}

void
gst_diffae_model_release (DaeModel * model)
{
  GHashTableIter iter;
  gpointer value;
  ModelEntry *found = NULL;

  if (!model)
    return;
  g_mutex_lock (&cache_lock);
  ensure_cache ();
  g_hash_table_iter_init (&iter, models);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((ModelEntry *) value)->model == model) {
      found = value;
      break;
    }
  if (found && --found->users == 0) {
    BackendEntry *be = found->backend;
    g_hash_table_remove (models, found->key);
    GST_INFO ("unloading model %s", dae_model_path (found->model));
    dae_model_unref (found->model);
    g_free (found->key);
    g_free (found);
    be->users--;
    unuse_backend (be);
  }
  g_mutex_unlock (&cache_lock);
  /* The caller's own reference. */
  dae_model_unref (model);
}

DaeModel *
gst_diffae_model_open (GstElement * element, const GstDiffaeModelSettings * settings,
    DaeSession ** session)
{
  GstDiffaeModelSettings copy;
  GError *error = NULL;
  DaeError err = { 0 };
  DaeModel *model;

  GST_OBJECT_LOCK (element);
  copy.model = g_strdup (settings->model);
  copy.backend = settings->backend;
  copy.device = g_strdup (settings->device);
  GST_OBJECT_UNLOCK (element);

  model = gst_diffae_model_acquire (element, &copy, &error);
  gst_diffae_model_settings_clear (&copy);
  if (!model) {
    GST_DIFFAE_POST_ERROR (element, error);
    g_error_free (error);
    return NULL;
  }
  if (session && dae_session_new (model, session, &err) != DAE_OK) {
    GST_DIFFAE_POST_DAE_ERROR (element, &err, "Could not start a session on %s",
        dae_model_path (model));
    gst_diffae_model_release (model);
    return NULL;
  }
  return model;
}

void
gst_diffae_model_close (DaeModel * model, DaeSession * session)
{
  dae_session_free (session);
  gst_diffae_model_release (model);
}

gboolean
gst_diffae_check_steps (GstElement * element, gint steps)
{
  DaeError err = { 0 };

  if (dae_check_steps (steps, &err) == DAE_OK)
    return TRUE;
  GST_ELEMENT_ERROR (element, LIBRARY, SETTINGS, ("%s", err.message), (NULL));
  return FALSE;
}

gboolean
gst_diffae_caps_accepted (GstElement * element, GstCaps * caps,
    GstDiffaeCapsCheck check, GstCaps ** refused)
{
  if (*refused && gst_caps_is_equal (caps, *refused))
    return FALSE;
  if (check (element, caps))
    return TRUE;
  gst_caps_replace (refused, caps);
  return FALSE;
}

guint
gst_diffae_model_cache_size (void)
{
  guint n;

  g_mutex_lock (&cache_lock);
  ensure_cache ();
  n = g_hash_table_size (models);
  g_mutex_unlock (&cache_lock);
  return n;
}

/* ---- video formats -------------------------------------------------------------------- */

static const struct
{
  GstVideoFormat gst;
  DaePixelFormat dae;
} pixel_formats[] = {
  {GST_VIDEO_FORMAT_GRAY8, DAE_PIXELS_GRAY8},
  {GST_VIDEO_FORMAT_RGB, DAE_PIXELS_RGB},
  {GST_VIDEO_FORMAT_RGBx, DAE_PIXELS_RGBX},
  {GST_VIDEO_FORMAT_BGRx, DAE_PIXELS_BGRX},
  {GST_VIDEO_FORMAT_RGBA, DAE_PIXELS_RGBA},
  {GST_VIDEO_FORMAT_BGRA, DAE_PIXELS_BGRA},
  {GST_VIDEO_FORMAT_BGR, DAE_PIXELS_BGR},
};

gboolean
gst_diffae_pixel_format (GstVideoFormat format, DaePixelFormat * out)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (pixel_formats); i++)
    if (pixel_formats[i].gst == format) {
      *out = pixel_formats[i].dae;
      return TRUE;
    }
  return FALSE;
}

void
gst_diffae_set_video_formats (GstStructure * s, gint channels)
{
  GValue list = G_VALUE_INIT, v = G_VALUE_INIT;
  guint i;

  g_value_init (&list, GST_TYPE_LIST);
  g_value_init (&v, G_TYPE_STRING);
  /* Grey models list GRAY8 first; colour models only the colour formats. */
  for (i = channels == 1 ? 0 : 1; i < G_N_ELEMENTS (pixel_formats); i++) {
    g_value_set_string (&v, gst_video_format_to_string (pixel_formats[i].gst));
    gst_value_list_append_value (&list, &v);
  }
  gst_structure_take_value (s, "format", &list);
  g_value_unset (&v);
}

gboolean
gst_diffae_video_format_allowed (GstVideoFormat format, gint channels)
{
  DaePixelFormat p;

  return gst_diffae_pixel_format (format, &p) && (channels == 1
      || format != GST_VIDEO_FORMAT_GRAY8);
}

/* ---- errors --------------------------------------------------------------------------- */

void
gst_diffae_post_error (GstElement * element, GError * error,
    const gchar * debug, const gchar * file, const gchar * function, gint line)
{
  gst_element_message_full (element, GST_MESSAGE_ERROR, error->domain,
      error->code, g_strdup (error->message), g_strdup (debug), file, function,
      line);
}

void
gst_diffae_post_dae_error (GstElement * element, const DaeError * err,
    const gchar * file, const gchar * function, gint line,
    const gchar * format, ...)
{
  GQuark domain;
  gint code;
  va_list ap;
  gchar *context;

  va_start (ap, format);
  context = g_strdup_vprintf (format, ap);
  va_end (ap);
  gst_diffae_error_domain (err->code, &domain, &code);
  gst_element_message_full (element, GST_MESSAGE_ERROR, domain, code,
      g_strdup_printf ("%s: %s", context, err->message),
      g_strdup_printf ("libdiffae status %s", dae_status_name (err->code)),
      file, function, line);
  g_free (context);
}

/* ---- latency -------------------------------------------------------------------------- */

void
gst_diffae_latency_reset (GstDiffaeLatency * lat)
{
  lat->measured = 0;
  lat->reported = 0;
  lat->have_measurement = FALSE;
}

gboolean
gst_diffae_latency_add (GstDiffaeLatency * lat, gint64 elapsed_us)
{
  GstClockTime t = (GstClockTime) MAX (elapsed_us, 0) * GST_USECOND;
  GstClockTime diff, tolerance;

  if (!lat->have_measurement)
    lat->measured = t;
  else                          /* exponential moving average, weight 1/4 */
    lat->measured = (3 * lat->measured + t) / 4;
  lat->have_measurement = TRUE;
  diff = lat->measured > lat->reported ? lat->measured - lat->reported :
      lat->reported - lat->measured;
  tolerance = MAX (GST_MSECOND, lat->reported / 4);
  return diff > tolerance;
}

GstClockTime
gst_diffae_latency_report (GstDiffaeLatency * lat)
{
  lat->reported = lat->measured;
  return lat->reported;
}

gboolean
gst_diffae_transform_latency_query (GstBaseTransform * trans,
    GstBaseTransformClass * parent_class, GstPadDirection direction,
    GstQuery * query, GstDiffaeLatency * lat, gboolean * result)
{
  gboolean live;
  GstClockTime min, max, ours;

  if (direction != GST_PAD_SRC || GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return FALSE;
  *result = parent_class->query (trans, direction, query);
  if (!*result)
    return TRUE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (trans);
  ours = gst_diffae_latency_report (lat);
  GST_OBJECT_UNLOCK (trans);
  GST_DEBUG_OBJECT (trans, "upstream latency %" GST_TIME_FORMAT "-%"
      GST_TIME_FORMAT ", ours %" GST_TIME_FORMAT, GST_TIME_ARGS (min),
      GST_TIME_ARGS (max), GST_TIME_ARGS (ours));
  min += ours;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += ours;
  gst_query_set_latency (query, live, min, max);
  return TRUE;
}

void
gst_diffae_latency_record (GstElement * element, GstDiffaeLatency * lat,
    gint64 start_us)
{
  gboolean drifted;

  GST_OBJECT_LOCK (element);
  drifted = gst_diffae_latency_add (lat, g_get_monotonic_time () - start_us);
  /* Counted as reported from now on, so one drift posts one message even when nobody
   * queries the latency. */
  if (drifted)
    gst_diffae_latency_report (lat);
  GST_OBJECT_UNLOCK (element);
  if (drifted) {
    GST_DEBUG_OBJECT (element, "processing time drifted to %" GST_TIME_FORMAT,
        GST_TIME_ARGS (lat->measured));
    gst_element_post_message (element,
        gst_message_new_latency (GST_OBJECT (element)));
  }
}
