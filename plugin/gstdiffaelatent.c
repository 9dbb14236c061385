/* diffae GStreamer plugin: latent caps and buffers (doc/latent-format.md). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiffaelatent.h"

#include <math.h>
#include <string.h>

/* The stored values are little-endian floats and are used in place. */
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "the diffae latent helpers use little-endian float32 data in place"
#endif

#define MAX_DIM 65536
#define MAX_XT_VALUES ((gsize) 1 << 31)

static gboolean
get_positive_int (const GstStructure * s, const gchar * field, gint * out,
    gchar ** why)
{
  if (!gst_structure_has_field (s, field)) {
    if (why)
      *why = g_strdup_printf ("latent caps have no %s field", field);
    return FALSE;
  }
  if (!gst_structure_get_int (s, field, out)) {
    if (why)
      *why = g_strdup_printf ("latent caps field %s is not a fixed integer",
          field);
    return FALSE;
  }
  if (*out < 1 || *out > MAX_DIM) {
    if (why)
      *why = g_strdup_printf ("latent caps field %s=%d is outside 1..%d",
          field, *out, MAX_DIM);
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_diffae_latent_info_from_caps (GstDiffaeLatentInfo * info,
    const GstCaps * caps, gchar ** why)
{
  const GstStructure *s;
  const gchar *id;

  memset (info, 0, sizeof *info);
  if (why)
    *why = NULL;
  if (!caps || gst_caps_get_size (caps) != 1 || !gst_caps_is_fixed (caps)) {
    if (why)
      *why = g_strdup ("latent caps are not fixed");
    return FALSE;
  }
  s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_has_name (s, GST_DIFFAE_LATENT_MEDIA_TYPE)) {
    if (why)
      *why = g_strdup_printf ("caps %s are not " GST_DIFFAE_LATENT_MEDIA_TYPE,
          gst_structure_get_name (s));
    return FALSE;
  }
  if (!get_positive_int (s, "z-channels", &info->z_channels, why))
    return FALSE;

  id = gst_structure_get_string (s, "model-id");
  if (!id || !*id || strlen (id) > GST_DIFFAE_MODEL_ID_MAX) {
    if (why)
      *why = g_strdup_printf ("latent caps need a model-id string of 1 to %d "
          "characters", GST_DIFFAE_MODEL_ID_MAX);
    return FALSE;
  }
  g_strlcpy (info->model_id, id, sizeof info->model_id);

  if (!gst_structure_get_boolean (s, "has-xt", &info->has_xt)) {
    if (why)
      *why = g_strdup ("latent caps need a boolean has-xt field");
    return FALSE;
  }
  if (info->has_xt) {
    if (!get_positive_int (s, "xt-channels", &info->xt_channels, why) ||
        !get_positive_int (s, "xt-height", &info->xt_height, why) ||
        !get_positive_int (s, "xt-width", &info->xt_width, why))
      return FALSE;
    if ((gsize) info->xt_channels * info->xt_height * info->xt_width >
        MAX_XT_VALUES) {
      if (why)
        *why = g_strdup_printf ("latent x_T %dx%dx%d is too large",
            info->xt_channels, info->xt_height, info->xt_width);
      return FALSE;
    }
  }

  if (!gst_structure_get_fraction (s, "framerate", &info->fps_n, &info->fps_d)
      || info->fps_n < 0 || info->fps_d <= 0) {
    if (why)
      *why = g_strdup ("latent caps need a framerate fraction");
    return FALSE;
  }
  return TRUE;
}

GstCaps *
gst_diffae_latent_info_to_caps (const GstDiffaeLatentInfo * info)
{
  GstCaps *caps = gst_caps_new_simple (GST_DIFFAE_LATENT_MEDIA_TYPE,
      "z-channels", G_TYPE_INT, info->z_channels,
      "model-id", G_TYPE_STRING, info->model_id,
      "has-xt", G_TYPE_BOOLEAN, info->has_xt, NULL);

  if (info->has_xt)
    gst_caps_set_simple (caps, "xt-channels", G_TYPE_INT, info->xt_channels,
        "xt-height", G_TYPE_INT, info->xt_height,
        "xt-width", G_TYPE_INT, info->xt_width, NULL);
  gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, info->fps_n,
      info->fps_d, NULL);
  return caps;
}

gboolean
gst_diffae_latent_info_is_equal (const GstDiffaeLatentInfo * a,
    const GstDiffaeLatentInfo * b)
{
  return a->z_channels == b->z_channels
      && strcmp (a->model_id, b->model_id) == 0
      && a->has_xt == b->has_xt
      && a->xt_channels == b->xt_channels
      && a->xt_height == b->xt_height
      && a->xt_width == b->xt_width
      && a->fps_n == b->fps_n && a->fps_d == b->fps_d;
}

gchar *
gst_diffae_latent_info_describe (const GstDiffaeLatentInfo * info)
{
  if (info->has_xt)
    return g_strdup_printf ("model %s, z_sem %d, x_T %dx%dx%d",
        info->model_id, info->z_channels, info->xt_channels, info->xt_height,
        info->xt_width);
  return g_strdup_printf ("model %s, z_sem %d, no x_T", info->model_id,
      info->z_channels);
}

gsize
gst_diffae_latent_info_z_bytes (const GstDiffaeLatentInfo * info)
{
  return (gsize) info->z_channels * sizeof (gfloat);
}

gsize
gst_diffae_latent_info_xt_bytes (const GstDiffaeLatentInfo * info)
{
  if (!info->has_xt)
    return 0;
  return (gsize) info->xt_channels * info->xt_height * info->xt_width *
      sizeof (gfloat);
}

gsize
gst_diffae_latent_info_size (const GstDiffaeLatentInfo * info)
{
  return gst_diffae_latent_info_z_bytes (info) +
      gst_diffae_latent_info_xt_bytes (info);
}

GstBuffer *
gst_diffae_latent_buffer_new (const GstDiffaeLatentInfo * info)
{
  GstBuffer *buf = gst_buffer_new ();
  GstAllocationParams params;

  /* 16-byte alignment: the floats are used in place. */
  gst_allocation_params_init (&params);
  params.align = 15;
  gst_buffer_append_memory (buf, gst_allocator_alloc (NULL,
          gst_diffae_latent_info_z_bytes (info), &params));
  if (info->has_xt)
    gst_buffer_append_memory (buf, gst_allocator_alloc (NULL,
            gst_diffae_latent_info_xt_bytes (info), &params));
  return buf;
}

static gchar *
describe_memories (GstBuffer * buffer)
{
  GString *s = g_string_new (NULL);
  guint i, n = gst_buffer_n_memory (buffer);

  g_string_append_printf (s, "%u %s (", n, n == 1 ? "memory" : "memories");
  for (i = 0; i < n; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT " bytes", i ? ", " : "",
        gst_buffer_peek_memory (buffer, i)->size);
  g_string_append (s, ")");
  return g_string_free (s, FALSE);
}

/* 0: canonical layout, 1: one memory with everything, -1: wrong. */
static gint
layout_of (GstBuffer * buffer, const GstDiffaeLatentInfo * info, gchar ** why)
{
  guint n = gst_buffer_n_memory (buffer);
  gsize zb = gst_diffae_latent_info_z_bytes (info);
  gsize xb = gst_diffae_latent_info_xt_bytes (info);

  if (n == (info->has_xt ? 2u : 1u)
      && gst_buffer_peek_memory (buffer, 0)->size == zb
      && (!info->has_xt || gst_buffer_peek_memory (buffer, 1)->size == xb))
    return 0;
  if (n == 1 && gst_buffer_peek_memory (buffer, 0)->size == zb + xb)
    return 1;
  if (why) {
    gchar *mems = describe_memories (buffer);
    if (info->has_xt)
      *why = g_strdup_printf ("corrupt latent buffer: it has %s, the caps say "
          "z_sem %" G_GSIZE_FORMAT " bytes in memory 0 and x_T %"
          G_GSIZE_FORMAT " bytes (%dx%dx%d floats) in memory 1", mems, zb, xb,
          info->xt_channels, info->xt_height, info->xt_width);
    else
      *why = g_strdup_printf ("corrupt latent buffer: it has %s, the caps say "
          "one memory of z_sem %" G_GSIZE_FORMAT " bytes (%d floats) and no "
          "x_T", mems, zb, info->z_channels);
    g_free (mems);
  }
  return -1;
}

gboolean
gst_diffae_latent_buffer_check_layout (GstBuffer * buffer,
    const GstDiffaeLatentInfo * info, gchar ** why)
{
  if (why)
    *why = NULL;
  return layout_of (buffer, info, why) >= 0;
}

static gboolean
check_finite (const gfloat * v, gsize n, const gchar * what, gchar ** why)
{
  gsize i;

  for (i = 0; i < n; i++)
    if (!isfinite (v[i])) {
      if (why)
        *why = g_strdup_printf ("corrupt latent buffer: %s value %"
            G_GSIZE_FORMAT " is %s", what, i, isnan (v[i]) ? "NaN" :
            "infinite");
      return FALSE;
    }
  return TRUE;
}

/* Points *dst at data, or at an aligned copy of it (read maps only). */
static gfloat *
aligned (GstDiffaeLatentMap * map, guint slot, guint8 * data, gsize bytes,
    GstMapFlags flags)
{
  if (((guintptr) data & 3) == 0 || (flags & GST_MAP_WRITE))
    return (gfloat *) data;
  map->copy[slot] = g_malloc (bytes ? bytes : 1);
  memcpy (map->copy[slot], data, bytes);
  return map->copy[slot];
}

gboolean
gst_diffae_latent_buffer_map (GstBuffer * buffer,
    const GstDiffaeLatentInfo * info, GstMapFlags flags,
    GstDiffaeLatentMap * map, gchar ** why)
{
  gsize zb = gst_diffae_latent_info_z_bytes (info);
  gsize xb = gst_diffae_latent_info_xt_bytes (info);
  gint layout;
  guint i;

  memset (map, 0, sizeof *map);
  if (why)
    *why = NULL;
  layout = layout_of (buffer, info, why);
  if (layout < 0)
    return FALSE;

  map->buffer = buffer;
  for (i = 0; i < (layout == 0 && info->has_xt ? 2u : 1u); i++) {
    map->memory[i] = gst_buffer_peek_memory (buffer, i);
    if (!gst_memory_map (map->memory[i], &map->map[i], flags)) {
      if (why)
        *why = g_strdup_printf ("could not map memory %u of a latent buffer "
            "for %s", i, (flags & GST_MAP_WRITE) ? "writing" : "reading");
      gst_diffae_latent_buffer_unmap (map);
      return FALSE;
    }
    map->n_mapped++;
  }
  if (flags & GST_MAP_WRITE) {
    /* Written memory must be usable in place. */
    for (i = 0; i < map->n_mapped; i++)
      if (((guintptr) map->map[i].data & 3) != 0) {
        if (why)
          *why = g_strdup ("a latent buffer to write is not 4-byte aligned");
        gst_diffae_latent_buffer_unmap (map);
        return FALSE;
      }
  }

  map->z = aligned (map, 0, map->map[0].data, zb, flags);
  if (info->has_xt) {
    if (layout == 0)
      map->xt = aligned (map, 1, map->map[1].data, xb, flags);
    else
      map->xt = aligned (map, 1, map->map[0].data + zb, xb, flags);
  }

  if (!(flags & GST_MAP_WRITE)) {
    if (!check_finite (map->z, info->z_channels, "z_sem", why) ||
        (map->xt && !check_finite (map->xt, xb / sizeof (gfloat), "x_T",
                why))) {
      gst_diffae_latent_buffer_unmap (map);
      return FALSE;
    }
  }
  return TRUE;
}

void
gst_diffae_latent_buffer_unmap (GstDiffaeLatentMap * map)
{
  guint i;

  for (i = 0; i < map->n_mapped; i++)
    gst_memory_unmap (map->memory[i], &map->map[i]);
  for (i = 0; i < 2; i++)
    g_free (map->copy[i]);
  memset (map, 0, sizeof *map);
}
