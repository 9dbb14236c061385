/* Frame batching for diffaeencode and diffaedecode (their "batch" property).
 *
 * Both run a network per frame (decode: one UNet pass per DDIM step; encode: the encoder
 * and, with inversion, a UNet pass per step). Running N frames through one call makes every
 * convolution N times wider, which the backends turn into throughput (doc/performance.md,
 * "Pipeline throughput"), at the cost of N-1 frames of latency.
 *
 * The element overrides GstBaseTransform::generate_output with
 * gst_diffae_batch_generate_output: each input buffer gets its output buffer at once
 * (prepare_output_buffer, so timestamps and metadata are the input's), is held until N are
 * pending, and then all N go through the element's run function together; the outputs leave
 * in input order, one per generate_output call. A serialized event (EOS, caps, segment,
 * tags, gaps) first runs and pushes what is pending, so nothing is lost or reordered;
 * FLUSH_STOP and stop drop it. Lock: streaming thread only. */
#ifndef __GST_DIFFAE_BATCH_H__
#define __GST_DIFFAE_BATCH_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

#include "diffae.h"

G_BEGIN_DECLS

#define GST_DIFFAE_BATCH_MAX 64

/* Processes n inputs into their n prepared outputs (the element's transform for n frames);
 * posts its own error message on failure. */
typedef GstFlowReturn (*GstDiffaeBatchRun) (GstBaseTransform * trans,
    GstBuffer ** in, GstBuffer ** out, guint n);

typedef struct
{
  GPtrArray *in, *out;          /* pending inputs and their outputs, in order */
  GQueue ready;                 /* processed outputs that generate_output has not returned */
} GstDiffaeBatch;

void gst_diffae_batch_init (GstDiffaeBatch * b);
/* Drops whatever is pending or ready (flush, stop). */
void gst_diffae_batch_clear (GstDiffaeBatch * b);
void gst_diffae_batch_free (GstDiffaeBatch * b);
gboolean gst_diffae_batch_is_empty (const GstDiffaeBatch * b);

/* GstBaseTransform::generate_output for `size` frames per run; with size 1 and nothing
 * held, the base class's own one-in, one-out path (parent_class's, which calls transform). */
GstFlowReturn gst_diffae_batch_generate_output (GstDiffaeBatch * b,
    GstBaseTransform * trans, GstBaseTransformClass * parent_class, guint size,
    GstDiffaeBatchRun run, GstBuffer ** outbuf);
/* Runs what is pending and pushes every output downstream (before a serialized event). */
GstFlowReturn gst_diffae_batch_drain (GstDiffaeBatch * b,
    GstBaseTransform * trans, GstDiffaeBatchRun run);
/* For sink_event: drains before serialized events, drops on FLUSH_STOP. */
void gst_diffae_batch_handle_event (GstDiffaeBatch * b,
    GstBaseTransform * trans, GstDiffaeBatchRun run, GstEvent * event);

/* Adds the wait for size - 1 more frames (of fps_n/fps_d; nothing when the rate is unknown)
 * to the minimum and maximum of an answered LATENCY query. */
void gst_diffae_batch_add_latency (GstQuery * query, guint size, gint fps_n,
    gint fps_d);

/* The host arrays of one batch: the frames as planar floats, their z_sem and their x_T. */
typedef struct
{
  guint frames;                 /* frames each array holds */
  gfloat *images, *z, *xt;
} GstDiffaeBatchArrays;

/* Room for n frames of the model's size (grows, never shrinks). */
void gst_diffae_batch_arrays_ensure (GstDiffaeBatchArrays * a,
    const DaeModelInfo * model, guint n);
void gst_diffae_batch_arrays_clear (GstDiffaeBatchArrays * a);
/* Floats of one frame's image (and x_T) of the model. */
gsize gst_diffae_image_floats (const DaeModelInfo * model);

/* Installs the "batch" property (guint, 1..GST_DIFFAE_BATCH_MAX) under prop_id. */
void gst_diffae_batch_install_property (GObjectClass * klass, guint prop_id);

G_END_DECLS

#endif
