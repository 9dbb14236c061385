/* diffae GStreamer plugin: the elements it registers. */
#ifndef __GST_DIFFAE_ELEMENTS_H__
#define __GST_DIFFAE_ELEMENTS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (diffaeencode);
GST_ELEMENT_REGISTER_DECLARE (diffaedecode);
GST_ELEMENT_REGISTER_DECLARE (diffaeinterp);
GST_ELEMENT_REGISTER_DECLARE (diffaeedit);

G_END_DECLS

#endif
