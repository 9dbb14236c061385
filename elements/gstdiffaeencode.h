/* diffaeencode: video frames to diffae latents. */
#ifndef __GST_DIFFAE_ENCODE_H__
#define __GST_DIFFAE_ENCODE_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

#include "gstdiffaebatch.h"
#include "gstdiffaecommon.h"
#include "gstdiffaelatent.h"

G_BEGIN_DECLS

#define GST_TYPE_DIFFAE_ENCODE (gst_diffae_encode_get_type ())
G_DECLARE_FINAL_TYPE (GstDiffaeEncode, gst_diffae_encode, GST, DIFFAE_ENCODE,
    GstBaseTransform);

struct _GstDiffaeEncode
{
  GstBaseTransform parent;

  /* properties (object lock) */
  GstDiffaeModelSettings settings;
  gint inversion_steps;
  guint batch_size;

  /* between start and stop (streaming thread) */
  DaeModel *model;
  DaeSession *session;
  DaeModelInfo model_info;
  GstVideoInfo vinfo;
  DaePixelFormat pixels;
  GstDiffaeLatentInfo linfo;
  gint caps_inversion_steps;
  GstDiffaeBatch batch;         /* frames waiting for a batch to fill */
  GstDiffaeBatchArrays arrays;  /* a batch's frames (planar floats), z_sem and x_T */
  gboolean error_posted;
  /* The caps last refused with an error: a sticky caps event comes again with every
   * buffer that follows, and the error is posted once. */
  GstCaps *refused_caps;

  GstDiffaeLatency latency;
};

GST_ELEMENT_REGISTER_DECLARE (diffaeencode);

G_END_DECLS

#endif
