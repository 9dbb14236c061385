/* diffae-edit-ramp: edits an attribute of a video with a strength that ramps over the clip.
 *
 *   diffae-edit-ramp [--from S] [--to S] [--input FILE | --pattern NAME --frames N]
 *       [--steps N] MODEL ATTRIBUTE OUTDIR
 *
 * Each frame is encoded into z_sem and its inverted x_T, diffaeedit moves z_sem along the
 * model's ATTRIBUTE direction with a strength going linearly from --from (first frame) to
 * --to (last frame), and the frames are decoded back and written as OUTDIR/frame-NNNNN.png.
 *
 * gst-launch-1.0 cannot attach a control source to a property, so this is a small C
 * program: a GstInterpolationControlSource (linear) bound to diffaeedit's controllable
 * "strength" with gst_direct_control_binding_new_absolute; diffaeedit syncs it to each
 * buffer's stream time. The pipeline is that of
 *
 *   gst-launch-1.0 videotestsrc ! videoconvert ! videoscale ! \
 *       diffaeencode model=M inversion-steps=20 ! diffaeedit model=M attribute=A strength=S ! \
 *       diffaedecode model=M steps=20 ! videoconvert ! pngenc ! multifilesink location=...
 */
#include <gst/gst.h>
#include <stdlib.h>

#include "ramp.h"



int
main (int argc, char **argv)
{
  gdouble from = 0.0, to = 0.5;
  gchar *input = NULL, *pattern = NULL;
  gint frames = 30, steps = 20;
  GOptionEntry entries[] = {
    {"from", 0, 0, G_OPTION_ARG_DOUBLE, &from,
          "Strength at the first frame (0)",
        "S"},
    {"to", 0, 0, G_OPTION_ARG_DOUBLE, &to, "Strength at the last frame (0.5)",
        "S"},
    {"input", 'i', 0, G_OPTION_ARG_FILENAME, &input,
        "Video file (default: a test pattern)", "FILE"},
    {"pattern", 0, 0, G_OPTION_ARG_STRING, &pattern,
        "videotestsrc pattern without --input (smpte)", "NAME"},
    {"frames", 'n', 0, G_OPTION_ARG_INT, &frames,
        "Frames of the test pattern (30)", "N"},
    {"steps", 's', 0, G_OPTION_ARG_INT, &steps,
        "DDIM steps of inversion and decoding (20)", "N"},
    {NULL}
  };
  GOptionContext *ctx =
      g_option_context_new ("MODEL ATTRIBUTE OUTDIR - ramp an attribute edit");
  GError *error = NULL;
  GstElement *pipeline, *enc, *edit, *dec, *sink, *src;
  GstControlSource *cs;
  GstPad *pad;
  GstClockTime end = 0;
  gchar *src_desc, *desc, *location;
  gboolean ok;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 4) {
    g_printerr ("%s\n", error ? error->message :
        "usage: diffae-edit-ramp [OPTION...] MODEL ATTRIBUTE OUTDIR (--help)");
    return 2;
  }
  g_option_context_free (ctx);
  g_mkdir_with_parents (argv[3], 0755);

  if (input)
    src_desc = g_strdup ("filesrc name=src ! decodebin");
  else
    src_desc = g_strdup_printf ("videotestsrc name=src num-buffers=%d "
        "pattern=%s", frames, pattern ? pattern : "smpte");
  desc = g_strconcat (src_desc, " ! videoconvert ! videoscale ! "
      "diffaeencode name=enc ! diffaeedit name=edit ! "
      "diffaedecode name=dec noise=from-stream ! videoconvert ! pngenc ! "
      "multifilesink name=sink", NULL);
  pipeline = gst_parse_launch (desc, &error);
  g_free (src_desc);
  g_free (desc);
  if (!pipeline) {
    g_printerr ("diffae-edit-ramp: %s\n", error->message);
    return 1;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  enc = gst_bin_get_by_name (GST_BIN (pipeline), "enc");
  edit = gst_bin_get_by_name (GST_BIN (pipeline), "edit");
  dec = gst_bin_get_by_name (GST_BIN (pipeline), "dec");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (input)
    g_object_set (src, "location", input, NULL);
  g_object_set (enc, "model", argv[1], "inversion-steps", steps, NULL);
  g_object_set (edit, "model", argv[1], "attribute", argv[2], NULL);
  g_object_set (dec, "model", argv[1], "steps", steps, NULL);
  location = g_build_filename (argv[3], "frame-%05d.png", NULL);
  g_object_set (sink, "location", location, NULL);
  g_free (location);

  /* The strength at t = 0 is set now, so the preroll frame has it; the end point follows
   * once the clip's length is known. */
  cs = ramp_bind (edit, "strength", from);
  pad = gst_element_get_static_pad (enc, "sink");
  ok = ramp_run (pipeline, pad, input ? 0 : frames, cs, to, &end);
  gst_object_unref (pad);
  if (ok)
    g_print ("diffae-edit-ramp: %s from %g to %g over %" GST_TIME_FORMAT "\n",
        argv[2], from, to, GST_TIME_ARGS (end));

  gst_object_unref (cs);
  gst_object_unref (src);
  gst_object_unref (enc);
  gst_object_unref (edit);
  gst_object_unref (dec);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (input);
  g_free (pattern);
  return ok ? 0 : 1;
}
