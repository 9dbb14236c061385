/* diffae-morph: morphs one video into another through the diffae latent space.
 *
 *   diffae-morph [--input-a FILE --input-b FILE | --pattern-a NAME --pattern-b NAME
 *       --frames N] [--steps N] MODEL OUTDIR
 *
 * Both videos are encoded (z_sem and inverted x_T); diffaeinterp mixes them with an alpha
 * going linearly from 0 at the first frame to 1 at the last (z_sem lerp, x_T slerp), and
 * the mix is decoded and written as OUTDIR/frame-NNNNN.png: the first frame reconstructs
 * video A, the last video B.
 *
 * gst-launch-1.0 cannot attach a control source to a property, so this is a small C
 * program: a GstInterpolationControlSource (linear) bound to diffaeinterp's controllable
 * "alpha"; diffaeinterp syncs it to the stream time of each output buffer. The pipeline is
 * that of
 *
 *   gst-launch-1.0 diffaeinterp name=mix alpha=A ! diffaedecode model=M ! videoconvert ! \
 *       pngenc ! multifilesink location=... \
 *     videotestsrc pattern=smpte ! videoconvert ! videoscale ! diffaeencode model=M ! mix.sink_0 \
 *     videotestsrc pattern=pinwheel ! videoconvert ! videoscale ! diffaeencode model=M ! mix.sink_1
 */
#include <gst/gst.h>
#include <stdlib.h>

#include "ramp.h"


static gchar *
source (const gchar * name, const gchar * file, const gchar * pattern,
    gint frames)
{
  if (file)
    return g_strdup_printf ("filesrc name=%s ! decodebin", name);
  return g_strdup_printf ("videotestsrc name=%s num-buffers=%d pattern=%s",
      name, frames, pattern);
}


int
main (int argc, char **argv)
{
  gchar *input_a = NULL, *input_b = NULL;
  gchar *pattern_a = NULL, *pattern_b = NULL;
  gint frames = 30, steps = 20;
  GOptionEntry entries[] = {
    {"input-a", 'a', 0, G_OPTION_ARG_FILENAME, &input_a,
        "First video file (default: a test pattern)", "FILE"},
    {"input-b", 'b', 0, G_OPTION_ARG_FILENAME, &input_b,
        "Second video file (default: a test pattern)", "FILE"},
    {"pattern-a", 0, 0, G_OPTION_ARG_STRING, &pattern_a,
        "videotestsrc pattern of the first video (smpte)", "NAME"},
    {"pattern-b", 0, 0, G_OPTION_ARG_STRING, &pattern_b,
        "videotestsrc pattern of the second video (pinwheel)", "NAME"},
    {"frames", 'n', 0, G_OPTION_ARG_INT, &frames,
        "Frames of the test patterns (30)", "N"},
    {"steps", 's', 0, G_OPTION_ARG_INT, &steps,
        "DDIM steps of inversion and decoding (20)", "N"},
    {NULL}
  };
  GOptionContext *ctx =
      g_option_context_new ("MODEL OUTDIR - morph video A into video B");
  GError *error = NULL;
  GstElement *pipeline, *el;
  GstControlSource *cs;
  GstPad *pad;
  GstClockTime end = 0;
  gchar *a, *b, *desc, *location;
  const gchar *names[] = { "enca", "encb", "dec" };
  gboolean ok;
  guint i;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 3) {
    g_printerr ("%s\n", error ? error->message :
        "usage: diffae-morph [OPTION...] MODEL OUTDIR (--help)");
    return 2;
  }
  g_option_context_free (ctx);
  g_mkdir_with_parents (argv[2], 0755);

  a = source ("srca", input_a, pattern_a ? pattern_a : "smpte", frames);
  b = source ("srcb", input_b, pattern_b ? pattern_b : "pinwheel", frames);
  desc = g_strdup_printf ("diffaeinterp name=mix ! "
      "diffaedecode name=dec noise=from-stream ! videoconvert ! pngenc ! "
      "multifilesink name=sink "
      "%s ! videoconvert ! videoscale ! diffaeencode name=enca ! mix.sink_0 "
      "%s ! videoconvert ! videoscale ! diffaeencode name=encb ! mix.sink_1",
      a, b);
  pipeline = gst_parse_launch (desc, &error);
  g_free (a);
  g_free (b);
  g_free (desc);
  if (!pipeline) {
    g_printerr ("diffae-morph: %s\n", error->message);
    return 1;
  }
  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    el = gst_bin_get_by_name (GST_BIN (pipeline), names[i]);
    g_object_set (el, "model", argv[1], i < 2 ? "inversion-steps" : "steps",
        steps, NULL);
    gst_object_unref (el);
  }
  if (input_a) {
    el = gst_bin_get_by_name (GST_BIN (pipeline), "srca");
    g_object_set (el, "location", input_a, NULL);
    gst_object_unref (el);
  }
  if (input_b) {
    el = gst_bin_get_by_name (GST_BIN (pipeline), "srcb");
    g_object_set (el, "location", input_b, NULL);
    gst_object_unref (el);
  }
  el = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  location = g_build_filename (argv[2], "frame-%05d.png", NULL);
  g_object_set (el, "location", location, NULL);
  g_free (location);
  gst_object_unref (el);

  /* alpha 0 at t = 0 from the start (the preroll frame); the end point once the length is
   * known. */
  el = gst_bin_get_by_name (GST_BIN (pipeline), "mix");
  cs = ramp_bind (el, "alpha", 0.0);
  gst_object_unref (el);
  el = gst_bin_get_by_name (GST_BIN (pipeline), "enca");
  pad = gst_element_get_static_pad (el, "sink");
  gst_object_unref (el);
  ok = ramp_run (pipeline, pad, input_a || input_b ? 0 : frames, cs, 1.0, &end);
  gst_object_unref (pad);
  if (ok)
    g_print ("diffae-morph: alpha 0 to 1 over %" GST_TIME_FORMAT "\n",
        GST_TIME_ARGS (end));

  gst_object_unref (cs);
  gst_object_unref (pipeline);
  g_free (input_a);
  g_free (input_b);
  g_free (pattern_a);
  g_free (pattern_b);
  return ok ? 0 : 1;
}
