/* diffaeinterp: interpolates two latent streams. */
#ifndef __GST_DIFFAE_INTERP_H__
#define __GST_DIFFAE_INTERP_H__

#include <gst/gst.h>
#include <gst/base/gstaggregator.h>

#include "gstdiffaecommon.h"
#include "gstdiffaelatent.h"

G_BEGIN_DECLS

#define GST_TYPE_DIFFAE_INTERP (gst_diffae_interp_get_type ())
G_DECLARE_FINAL_TYPE (GstDiffaeInterp, gst_diffae_interp, GST, DIFFAE_INTERP,
    GstAggregator);

struct _GstDiffaeInterp
{
  GstAggregator parent;

  GstAggregatorPad *sinkpad[2];

  /* properties (object lock) */
  gfloat alpha;

  /* streaming (the source pad task) */
  GstDiffaeLatentInfo info[2];
  gboolean have_info[2];
  GstBuffer *held;              /* the sink_1 buffer paired with sink_0's current one */

  GstDiffaeLatency latency;
};

GST_ELEMENT_REGISTER_DECLARE (diffaeinterp);

G_END_DECLS

#endif
