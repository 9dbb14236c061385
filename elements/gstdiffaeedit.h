/* diffaeedit: moves z_sem along attribute directions stored with the model. */
#ifndef __GST_DIFFAE_EDIT_H__
#define __GST_DIFFAE_EDIT_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

#include "gstdiffaecommon.h"
#include "gstdiffaelatent.h"

G_BEGIN_DECLS

#define GST_TYPE_DIFFAE_EDIT (gst_diffae_edit_get_type ())
G_DECLARE_FINAL_TYPE (GstDiffaeEdit, gst_diffae_edit, GST, DIFFAE_EDIT,
    GstBaseTransform);

struct _GstDiffaeEdit
{
  GstBaseTransform parent;

  /* properties (object lock) */
  GstDiffaeModelSettings settings;
  gchar *edits;
  gchar *attribute;
  gfloat strength;

  /* between start and stop */
  DaeModel *model;
  DaeModelInfo model_info;
  GstDiffaeLatentInfo linfo;
  gboolean have_linfo;

  GstDiffaeLatency latency;
};

GST_ELEMENT_REGISTER_DECLARE (diffaeedit);

G_END_DECLS

#endif
