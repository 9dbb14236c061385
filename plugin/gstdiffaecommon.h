/* diffae GStreamer plugin: what the elements share.
 *
 *  - the backend enum of the "backend" property;
 *  - the per-process cache of backends and models: elements that name the same model file on
 *    the same backend and device share one DaeModel (its weights live once on the device);
 *    each element keeps its own DaeSession;
 *  - posting libdiffae errors as element errors;
 *  - the measured processing latency of an element. */
#ifndef __GST_DIFFAE_COMMON_H__
#define __GST_DIFFAE_COMMON_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

#include "diffae.h"

G_BEGIN_DECLS

typedef enum
{
  GST_DIFFAE_BACKEND_AUTO = 0,
  GST_DIFFAE_BACKEND_CPU,
  GST_DIFFAE_BACKEND_VULKAN,
} GstDiffaeBackend;

#define GST_TYPE_DIFFAE_BACKEND (gst_diffae_backend_get_type ())
GType gst_diffae_backend_get_type (void);

/* The weights installed with the plugin (a meson-configured path). */
const gchar *gst_diffae_default_model_path (void);

/* The model/backend/device properties of encode, decode and edit. */
typedef struct
{
  gchar *model;
  GstDiffaeBackend backend;
  gchar *device;
} GstDiffaeModelSettings;

void gst_diffae_model_settings_init (GstDiffaeModelSettings * s);
void gst_diffae_model_settings_clear (GstDiffaeModelSettings * s);
/* Installs "model", "backend" and "device" with ids first, first + 1, first + 2. */
void gst_diffae_model_settings_install (GObjectClass * klass, guint first);
/* TRUE when prop_id was one of the three (under the object lock of obj). */
gboolean gst_diffae_model_settings_set (GstDiffaeModelSettings * s,
    GObject * obj, guint first, guint prop_id, const GValue * value);
gboolean gst_diffae_model_settings_get (GstDiffaeModelSettings * s,
    GObject * obj, guint first, guint prop_id, GValue * value);

/* Returns a reference to the model of the settings, loading it (and opening its backend)
 * when no element of the process holds it yet. Posts progress messages on element while
 * loading. On failure returns NULL and an error in the GST_RESOURCE_ERROR or
 * GST_LIBRARY_ERROR domain. Give the model back with gst_diffae_model_release. */
DaeModel *gst_diffae_model_acquire (GstElement * element,
    const GstDiffaeModelSettings * s, GError ** error);
void gst_diffae_model_release (DaeModel * model);
/* What encode, decode and edit do when they start: the element's model settings, read under
 * its object lock, give a model from the cache and, when session is not NULL, a session on
 * it. On failure posts the error on the element and returns NULL (nothing held). */
DaeModel *gst_diffae_model_open (GstElement * element,
    const GstDiffaeModelSettings * settings, DaeSession ** session);
/* Gives back what gst_diffae_model_open returned; either may be NULL. */
void gst_diffae_model_close (DaeModel * model, DaeSession * session);
/* A DDIM step count the schedule cannot space is a settings error when the element starts,
 * not at its first frame: posts it and returns FALSE. */
gboolean gst_diffae_check_steps (GstElement * element, gint steps);
/* The first half of encode's and decode's caps event: check (which posts its own error)
 * judges caps; refused caps are kept in *refused, and the same caps coming again (a sticky
 * caps event is re-sent with every buffer that follows) are refused without a second
 * error. FALSE: refuse the event. */
typedef gboolean (*GstDiffaeCapsCheck) (GstElement * element, GstCaps * caps);
gboolean gst_diffae_caps_accepted (GstElement * element, GstCaps * caps,
    GstDiffaeCapsCheck check, GstCaps ** refused);
/* Number of distinct models loaded right now (for tests). */
guint gst_diffae_model_cache_size (void);

/* The 8-bit video formats the elements read and write (all of dae_pixels_to_float's). */
#define GST_DIFFAE_VIDEO_FORMATS "{ GRAY8, RGB, RGBx, BGRx, RGBA, BGRA, BGR }"
#define GST_DIFFAE_VIDEO_CAPS GST_VIDEO_CAPS_MAKE (GST_DIFFAE_VIDEO_FORMATS)

gboolean gst_diffae_pixel_format (GstVideoFormat format, DaePixelFormat * out);
/* Sets the "format" field of s to the formats for a model of `channels` channels, preferred
 * first: grey models GRAY8 and then the colour formats (read as luma), colour models the
 * colour formats. */
void gst_diffae_set_video_formats (GstStructure * s, gint channels);
/* TRUE when format is in that list. */
gboolean gst_diffae_video_format_allowed (GstVideoFormat format, gint channels);

/* Maps a libdiffae status to a GStreamer error domain and code. */
void gst_diffae_error_domain (DaeStatus status, GQuark * domain, gint * code);

/* Posts an error message from a GError (text = message, debug may be NULL). */
void gst_diffae_post_error (GstElement * element, GError * error,
    const gchar * debug, const gchar * file, const gchar * function, gint line);
/* Posts an error message from a DaeError, prefixed by printf-style context. */
void gst_diffae_post_dae_error (GstElement * element, const DaeError * err,
    const gchar * file, const gchar * function, gint line,
    const gchar * format, ...) G_GNUC_PRINTF (6, 7);

#define GST_DIFFAE_POST_ERROR(el, gerror) \
  gst_diffae_post_error (GST_ELEMENT (el), (gerror), NULL, __FILE__, \
      GST_FUNCTION, __LINE__)
#define GST_DIFFAE_POST_DAE_ERROR(el, daeerr, ...) \
  gst_diffae_post_dae_error (GST_ELEMENT (el), (daeerr), __FILE__, \
      GST_FUNCTION, __LINE__, __VA_ARGS__)

/* Measured processing time of one buffer, smoothed, and the value last reported in a
 * latency query. Protected by the owner's object lock. */
typedef struct
{
  GstClockTime measured;
  GstClockTime reported;
  gboolean have_measurement;
} GstDiffaeLatency;

void gst_diffae_latency_reset (GstDiffaeLatency * lat);
/* Adds one measurement (an elapsed monotonic time in microseconds). Returns TRUE when the
 * smoothed value drifted from the reported one enough that the element should post a
 * latency message (the caller does, outside its locks). Lock: the owner's object lock. */
gboolean gst_diffae_latency_add (GstDiffaeLatency * lat, gint64 elapsed_us);
/* The value to report now (and remember as reported). Lock: the owner's object lock. */
GstClockTime gst_diffae_latency_report (GstDiffaeLatency * lat);

/* For GstBaseTransform::query: answers a LATENCY query on the source pad with upstream's
 * latency plus ours; returns FALSE when the query is not a LATENCY query on the source pad
 * (then chain up). *result holds the answer otherwise. */
gboolean gst_diffae_transform_latency_query (GstBaseTransform * trans,
    GstBaseTransformClass * parent_class, GstPadDirection direction,
    GstQuery * query, GstDiffaeLatency * lat, gboolean * result);
/* Records the time of one buffer and posts a latency message when it drifted. */
void gst_diffae_latency_record (GstElement * element, GstDiffaeLatency * lat,
    gint64 start_us);

G_END_DECLS

#endif
