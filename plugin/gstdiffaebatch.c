/* Frame batching for diffaeencode and diffaedecode: see gstdiffaebatch.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiffaebatch.h"

void
gst_diffae_batch_init (GstDiffaeBatch * b)
{
  b->in = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  b->out = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  g_queue_init (&b->ready);
}

void
gst_diffae_batch_clear (GstDiffaeBatch * b)
{
  g_ptr_array_set_size (b->in, 0);
  g_ptr_array_set_size (b->out, 0);
  g_queue_clear_full (&b->ready, (GDestroyNotify) gst_buffer_unref);
}

void
gst_diffae_batch_free (GstDiffaeBatch * b)
{
  gst_diffae_batch_clear (b);
  g_clear_pointer (&b->in, g_ptr_array_unref);
  g_clear_pointer (&b->out, g_ptr_array_unref);
}

gboolean
gst_diffae_batch_is_empty (const GstDiffaeBatch * b)
{
  return b->in->len == 0 && b->ready.length == 0;
}

/* Runs the pending frames; their outputs join the ready queue (all dropped on failure). */
static GstFlowReturn
run_pending (GstDiffaeBatch * b, GstBaseTransform * trans, GstDiffaeBatchRun run)
{
  GstFlowReturn ret;
  guint i;

  if (b->in->len == 0)
    return GST_FLOW_OK;
  GST_LOG_OBJECT (trans, "running a batch of %u frames", b->in->len);
  ret = run (trans, (GstBuffer **) b->in->pdata, (GstBuffer **) b->out->pdata,
      b->in->len);
  for (i = 0; ret == GST_FLOW_OK && i < b->out->len; i++)
    g_queue_push_tail (&b->ready, gst_buffer_ref (g_ptr_array_index (b->out, i)));
  g_ptr_array_set_size (b->in, 0);
  g_ptr_array_set_size (b->out, 0);
  return ret;
}

GstFlowReturn
gst_diffae_batch_generate_output (GstDiffaeBatch * b, GstBaseTransform * trans,
    GstBaseTransformClass * parent_class, guint size, GstDiffaeBatchRun run,
    GstBuffer ** outbuf)
{
  GstBaseTransformClass *klass = GST_BASE_TRANSFORM_GET_CLASS (trans);
  GstFlowReturn ret = GST_FLOW_OK;

  if (size <= 1 && gst_diffae_batch_is_empty (b))
    return parent_class->generate_output (trans, outbuf);
  *outbuf = NULL;
  if (trans->queued_buf) {
    GstBuffer *in = trans->queued_buf, *out = NULL;

    trans->queued_buf = NULL;
    ret = klass->prepare_output_buffer (trans, in, &out);
    if (ret != GST_FLOW_OK || !out) {
      gst_buffer_unref (in);
      return ret != GST_FLOW_OK ? ret : GST_FLOW_ERROR;
    }
    g_ptr_array_add (b->in, in);
    g_ptr_array_add (b->out, out);
  }
  if (b->in->len >= MAX (size, 1))
    ret = run_pending (b, trans, run);
  if (ret == GST_FLOW_OK)
    *outbuf = g_queue_pop_head (&b->ready);
  return ret;
}

GstFlowReturn
gst_diffae_batch_drain (GstDiffaeBatch * b, GstBaseTransform * trans,
    GstDiffaeBatchRun run)
{
  GstFlowReturn ret = run_pending (b, trans, run);
  GstBuffer *out;

  while (ret == GST_FLOW_OK && (out = g_queue_pop_head (&b->ready)))
    ret = gst_pad_push (trans->srcpad, out);
  if (ret != GST_FLOW_OK)
    GST_DEBUG_OBJECT (trans, "draining the batch: %s", gst_flow_get_name (ret));
  return ret;
}

void
gst_diffae_batch_handle_event (GstDiffaeBatch * b, GstBaseTransform * trans,
    GstDiffaeBatchRun run, GstEvent * event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP)
    gst_diffae_batch_clear (b);
  else if (GST_EVENT_IS_SERIALIZED (event) && !gst_diffae_batch_is_empty (b))
    gst_diffae_batch_drain (b, trans, run);
}

void
gst_diffae_batch_add_latency (GstQuery * query, guint size, gint fps_n, gint fps_d)
{
  GstClockTime min, max, wait;
  gboolean live;

  if (size <= 1 || fps_n <= 0 || fps_d <= 0)
    return;
  wait = gst_util_uint64_scale_int_ceil ((size - 1) * GST_SECOND, fps_d, fps_n);
  gst_query_parse_latency (query, &live, &min, &max);
  gst_query_set_latency (query, live, min + wait,
      GST_CLOCK_TIME_IS_VALID (max) ? max + wait : max);
}

gsize
gst_diffae_image_floats (const DaeModelInfo * model)
{
  return (gsize) model->channels * model->image_size * model->image_size;
}

void
gst_diffae_batch_arrays_ensure (GstDiffaeBatchArrays * a,
    const DaeModelInfo * model, guint n)
{
  gsize image = gst_diffae_image_floats (model);

  if (n <= a->frames)
    return;
  gst_diffae_batch_arrays_clear (a);
  a->images = g_new (gfloat, image * n);
  a->z = g_new (gfloat, (gsize) model->z_channels * n);
  a->xt = g_new (gfloat, image * n);
  a->frames = n;
}

void
gst_diffae_batch_arrays_clear (GstDiffaeBatchArrays * a)
{
  g_clear_pointer (&a->images, g_free);
  g_clear_pointer (&a->z, g_free);
  g_clear_pointer (&a->xt, g_free);
  a->frames = 0;
}

void
gst_diffae_batch_install_property (GObjectClass * klass, guint prop_id)
{
  g_object_class_install_property (klass, prop_id,
      g_param_spec_uint ("batch", "Batch",
          "Frames per run of the network: N frames go through together (higher "
          "throughput, one wide pass instead of N narrow ones) at the cost of N-1 "
          "frames of latency; a partial batch runs at EOS and before other "
          "serialized events", 1, GST_DIFFAE_BATCH_MAX, 1,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
}
