/* diffae GStreamer plugin: the latent media type (doc/latent-format.md).
 *
 * A latent stream carries one GstBuffer per video frame:
 *   memory 0: z_sem, z-channels float32 little-endian values;
 *   memory 1: x_T, xt-channels * xt-height * xt-width float32 little-endian values in CHW
 *             order, present exactly when the caps say has-xt=true.
 * Readers also accept the same bytes in one memory (z_sem then x_T), as a filesrc gives them.
 *
 * Caps (typed fields, all required except the x_T shape when has-xt=false):
 *   application/x-diffae-latent, z-channels=(int)Z, model-id=(string)ID,
 *     has-xt=(boolean)B[, xt-channels=(int)C, xt-height=(int)H, xt-width=(int)W],
 *     framerate=(fraction)F
 */
#ifndef __GST_DIFFAE_LATENT_H__
#define __GST_DIFFAE_LATENT_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_DIFFAE_LATENT_MEDIA_TYPE "application/x-diffae-latent"

/* Template caps of a latent pad: the fields whose values a template can state. model-id and
 * the x_T shape are checked in code (gst_diffae_latent_info_from_caps). */
#define GST_DIFFAE_LATENT_CAPS \
  GST_DIFFAE_LATENT_MEDIA_TYPE ", " \
  "z-channels = (int) [ 1, 65536 ], " \
  "has-xt = (boolean) { false, true }, " \
  "framerate = (fraction) [ 0/1, MAX ]"

#define GST_DIFFAE_MODEL_ID_MAX 64

typedef struct
{
  gint z_channels;
  gchar model_id[GST_DIFFAE_MODEL_ID_MAX + 1];
  gboolean has_xt;
  gint xt_channels, xt_height, xt_width;        /* 0 when !has_xt */
  gint fps_n, fps_d;
} GstDiffaeLatentInfo;

/* Parses fixed latent caps. On failure returns FALSE and, when why is not NULL, a message
 * saying which field is missing or wrong (free with g_free). */
gboolean gst_diffae_latent_info_from_caps (GstDiffaeLatentInfo * info,
    const GstCaps * caps, gchar ** why);
GstCaps *gst_diffae_latent_info_to_caps (const GstDiffaeLatentInfo * info);
gboolean gst_diffae_latent_info_is_equal (const GstDiffaeLatentInfo * a,
    const GstDiffaeLatentInfo * b);
/* "model 0123..., z 16, x_T 3x16x16" (free with g_free). */
gchar *gst_diffae_latent_info_describe (const GstDiffaeLatentInfo * info);

/* Byte sizes of the two parts and of the whole latent. */
gsize gst_diffae_latent_info_z_bytes (const GstDiffaeLatentInfo * info);
gsize gst_diffae_latent_info_xt_bytes (const GstDiffaeLatentInfo * info);
gsize gst_diffae_latent_info_size (const GstDiffaeLatentInfo * info);

/* A new buffer of the canonical layout (one or two memories), contents undefined. */
GstBuffer *gst_diffae_latent_buffer_new (const GstDiffaeLatentInfo * info);

/* Checks that buffer's memories have the layout of info (canonical, or the whole latent in
 * one memory). On failure returns FALSE with a message in why. */
gboolean gst_diffae_latent_buffer_check_layout (GstBuffer * buffer,
    const GstDiffaeLatentInfo * info, gchar ** why);

/* A mapped latent. z and xt (NULL when absent) point into the buffer's memory, or into
 * aligned copies when the memory is not 4-byte aligned (read maps only). */
typedef struct
{
  gfloat *z;
  gfloat *xt;
  /* private */
  GstBuffer *buffer;
  GstMemory *memory[2];
  GstMapInfo map[2];
  guint n_mapped;
  gpointer copy[2];
} GstDiffaeLatentMap;

/* Maps buffer for reading (flags GST_MAP_READ) or writing. A read map also checks that every
 * value is finite. On failure nothing stays mapped, FALSE is returned and why says what is
 * wrong with the buffer. */
gboolean gst_diffae_latent_buffer_map (GstBuffer * buffer,
    const GstDiffaeLatentInfo * info, GstMapFlags flags, GstDiffaeLatentMap * map,
    gchar ** why);
void gst_diffae_latent_buffer_unmap (GstDiffaeLatentMap * map);

G_END_DECLS

#endif
