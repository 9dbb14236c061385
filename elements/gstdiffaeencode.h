/* diffaeencode: video frames to diffae latents. */
#ifndef __GST_DIFFAE_ENCODE_H__
#define __GST_DIFFAE_ENCODE_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

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

  /* between start and stop (streaming thread) */
  DaeModel *model;
  DaeSession *session;
  DaeModelInfo model_info;
  GstVideoInfo vinfo;
  DaePixelFormat pixels;
  GstDiffaeLatentInfo linfo;
  gint caps_inversion_steps;
  gfloat *chw;
  gboolean error_posted;
  /* The caps last refused with an error: a sticky caps event comes again with every
   * buffer that follows, and the error is posted once. */
  GstCaps *refused_caps;

  GstDiffaeLatency latency;
};

GST_ELEMENT_REGISTER_DECLARE (diffaeencode);

G_END_DECLS

#endif
