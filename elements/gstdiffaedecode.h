/* diffaedecode: diffae latents to video frames. */
#ifndef __GST_DIFFAE_DECODE_H__
#define __GST_DIFFAE_DECODE_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

#include "gstdiffaebatch.h"
#include "gstdiffaecommon.h"
#include "gstdiffaelatent.h"

G_BEGIN_DECLS

/**
 * GstDiffaeDecodeNoise:
 * @GST_DIFFAE_DECODE_NOISE_FROM_STREAM: x_T of the stream (needs has-xt=true)
 * @GST_DIFFAE_DECODE_NOISE_FIXED: one x_T drawn from the seed, the same for every frame
 * @GST_DIFFAE_DECODE_NOISE_PER_FRAME: a new x_T for each frame, from the seed and the frame
 *     number
 *
 * Where diffaedecode takes the stochastic code x_T from.
 */
typedef enum
{
  GST_DIFFAE_DECODE_NOISE_FROM_STREAM = 0,
  GST_DIFFAE_DECODE_NOISE_FIXED,
  GST_DIFFAE_DECODE_NOISE_PER_FRAME,
} GstDiffaeDecodeNoise;

#define GST_TYPE_DIFFAE_DECODE_NOISE (gst_diffae_decode_noise_get_type ())
GType gst_diffae_decode_noise_get_type (void);

#define GST_TYPE_DIFFAE_DECODE (gst_diffae_decode_get_type ())
G_DECLARE_FINAL_TYPE (GstDiffaeDecode, gst_diffae_decode, GST, DIFFAE_DECODE,
    GstBaseTransform);

struct _GstDiffaeDecode
{
  GstBaseTransform parent;

  /* properties (object lock) */
  GstDiffaeModelSettings settings;
  gint steps;
  GstDiffaeDecodeNoise noise;
  guint64 seed;
  guint batch_size;

  /* between start and stop (streaming thread) */
  DaeModel *model;
  DaeSession *session;
  DaeModelInfo model_info;
  GstDiffaeLatentInfo linfo;
  GstVideoInfo vinfo;
  DaePixelFormat pixels;
  GstDiffaeBatch batch;         /* frames waiting for a batch to fill */
  GstDiffaeBatchArrays arrays;  /* a batch's z_sem, x_T and decoded images */
  gfloat *xt;                   /* drawn noise */
  gboolean xt_valid;            /* xt holds the noise of (xt_seed, xt_stream) */
  guint64 xt_seed, xt_stream;
  guint64 frames;               /* frames decoded since start (for buffers without PTS) */
  /* The caps last refused with an error: a sticky caps event comes again with every
   * buffer that follows, and the error is posted once. */
  GstCaps *refused_caps;

  GstDiffaeLatency latency;
};

GST_ELEMENT_REGISTER_DECLARE (diffaedecode);

G_END_DECLS

#endif
