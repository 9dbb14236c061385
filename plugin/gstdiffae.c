/* diffae GStreamer plugin: Diffusion Autoencoders (Preechakul et al., CVPR 2022).
 *
 * Registers diffaeencode, diffaedecode, diffaeinterp and diffaeedit (doc/elements.md). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstdiffaeelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (diffaeencode, plugin);
  ret |= GST_ELEMENT_REGISTER (diffaedecode, plugin);
  ret |= GST_ELEMENT_REGISTER (diffaeinterp, plugin);
  ret |= GST_ELEMENT_REGISTER (diffaeedit, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR,
    GST_VERSION_MINOR,
    diffae,
    "Diffusion Autoencoders: encode video frames to semantic latents, edit, "
    "interpolate and decode them",
    plugin_init, VERSION, "MIT/X11", PACKAGE_NAME, GST_PACKAGE_ORIGIN)
