/* Helpers of the diffae element tests (GstHarness, gstreamer-check-1.0).
 *
 * Models come from the environment (gst-tests/meson.build sets them):
 *   DIFFAE_TEST_MODEL   the trained tiny16 model (16x16 RGB, z 16, latent stats, attributes
 *                       "bright" and "round")
 *   DIFFAE_TEST_OTHER   untrained, same architecture, another model-id, no extras
 *   DIFFAE_TEST_GREY    untrained 8x8 grey model, z 8 */
#ifndef DIFFAE_TEST_H
#define DIFFAE_TEST_H

#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "diffae.h"

G_BEGIN_DECLS

const gchar *test_model_path (const gchar * env);
#define TEST_MODEL test_model_path ("DIFFAE_TEST_MODEL")
#define TEST_OTHER test_model_path ("DIFFAE_TEST_OTHER")
#define TEST_GREY test_model_path ("DIFFAE_TEST_GREY")

/* The model-id of a model file (loaded once per file on the CPU backend). */
const gchar *test_model_id (const gchar * path);

/* A bus on element (and its children) to read its messages. */
GstBus *test_watch (GstElement * element);
/* Detaches and releases that bus (call before the element goes away). */
void test_unwatch (GstElement * element, GstBus * bus);
/* The text of the first error message on bus (waiting up to 10 s), NULL when there is
 * none (g_free). */
gchar *test_pop_error (GstBus * bus);
/* Asserts that bus has an error whose text contains every needle (NULL-terminated). */
void test_assert_error (GstBus * bus, const gchar * first_needle, ...)
    G_GNUC_NULL_TERMINATED;
/* Number of messages of type (and, for progress messages, of progress type) on bus;
 * consumes them. */
guint test_count_messages (GstBus * bus, GstMessageType type);

/* Sends caps that h's element has just refused with an error once more, as a sticky caps
 * event is re-sent with every buffer: asserts it is refused again without a second error. */
void test_assert_refused_again (GstHarness * h, GstBus * bus, GstCaps * caps);

/* Latent caps string for the given fields (xt_size 0: has-xt=false). */
GstCaps *test_latent_caps (gint z, const gchar * model_id, gint xt_channels,
    gint xt_size);
/* A latent buffer of the canonical layout with the given values (xt may be NULL). */
GstBuffer *test_latent_buffer (const gfloat * z, gsize z_len, const gfloat * xt,
    gsize xt_len);
/* Copies memory i of buffer into out (n floats expected). */
void test_read_memory (GstBuffer * buffer, guint i, gfloat * out, gsize n);

/* A smooth RGB test image (two-colour horizontal gradient, variant i), packed RGB. */
GstBuffer *test_rgb_frame (gint size, gint variant);
/* Mean squared difference of two packed RGB frames in [-1, 1] units. */
gdouble test_frame_mse (GstBuffer * a, GstBuffer * b, gint size);

GstCaps *test_rgb_caps (gint size);

/* Runs suite s (in one process with CK_FORK=no: gst_check_init's exit handler calls
 * gst_deinit, where GST_TRACERS=leaks reports leaked objects for the whole suite). */
gint test_run (Suite * s, const gchar * name);

#define DIFFAE_CHECK_MAIN(name) \
  int main (int argc, char **argv) \
  { \
    gst_check_init (&argc, &argv); \
    return test_run (name ## _suite (), #name); \
  }

G_END_DECLS

#endif
