/* Recording on Vulkan: each stream records its ops into one command buffer and submits it
 * once, when the stream is synchronised (or a tensor is read back).
 *
 * Barriers: a dispatch needs one only when it reads memory written since the last barrier
 * (read after write), writes memory written since then (write after write) or writes memory
 * read since then (write after read). The recorder keeps the byte ranges read and written
 * since the last barrier and inserts one global memory barrier when an overlap is found, so
 * independent dispatches (the per-parameter updates of an optimiser step, the q/k/v of
 * attention) run back to back. The synchronisation-validation layer checks this in tests. */
#include "vk_backend.h"

#include <stdlib.h>
#include <string.h>

#define SETS_PER_POOL 1024
#define QUERIES_PER_POOL 8192
#define UPDATE_BUFFER_MAX 65536

typedef struct {
  VkBuffer buffer;
  VkDeviceSize lo, hi;
} Span;

/* An entry of the derived-tensor cache (dae_vk_derived); t is NULL while the source has only
 * been looked at (dae_vk_derived_steady). */
typedef struct {
  guint64 serial;               /* the source's storage */
  size_t offset, numel;         /* the source's view of it */
  uint32_t kind;
  gssize writes;                /* the storage's write count when the entry was filled */
  DaeTensor *t;
} Derived;

typedef struct {
  DaeStream base;
  VkCommandPool pool;
  VkCommandBuffer cmd;
  VkFence fence;
  bool recording;
  VkPipeline bound;
  GPtrArray *desc_pools;        /* VkDescriptorPool */
  guint desc_pool_index;
  uint32_t sets_left;
  GPtrArray *staging;           /* DaeVkBlock* freed when the recording completes */
  GArray *views;                /* VkBufferView, destroyed when the recording completes */
  GHashTable *pinned;           /* DaeVkStorage* used by the recording */
  GArray *reads, *writes;       /* Span, since the last barrier */
  VkQueryPool queries;
  uint32_t queries_used;
  GPtrArray *labels;            /* shader name of each timestamp pair */
  DaeTensor *scratch[DAE_VK_SCRATCH_SLOTS];
  GArray *derived;              /* Derived */
  size_t derived_bytes;
  gint validation_seen;
  bool skip_barriers;           /* $DIFFAE_DEBUG_SKIP_BARRIERS=1: proves the validation tests bite */
} VkStream;

static inline VkStream *
vs (DaeStream * s)
{
  return (VkStream *) s;
}

/* ---- lifetime -------------------------------------------------------------------------- */

DaeStream *
dae_vk_stream_new (DaeBackend * be, DaeError * err)
{
  DaeVkDevice *dev = dae_vk_dev (be);
  VkStream *s = calloc (1, sizeof *s);
  VkCommandPoolCreateInfo pinfo = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
    .queueFamilyIndex = dev->queue_family,
  };
  VkFenceCreateInfo finfo = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  if (vk.CreateCommandPool (dev->device, &pinfo, NULL, &s->pool) != VK_SUCCESS ||
      vk.CreateFence (dev->device, &finfo, NULL, &s->fence) != VK_SUCCESS) {
    dae_error_set (err, DAE_ERR_DEVICE, "creating a command pool on %s failed",
        dev->props.deviceName);
    if (s->pool)
      vk.DestroyCommandPool (dev->device, s->pool, NULL);
    free (s);
    return NULL;
  }
  VkCommandBufferAllocateInfo ainfo = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = s->pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  vk.AllocateCommandBuffers (dev->device, &ainfo, &s->cmd);
  s->desc_pools = g_ptr_array_new ();
  s->views = g_array_new (FALSE, FALSE, sizeof (VkBufferView));
  s->staging = g_ptr_array_new ();
  s->pinned = g_hash_table_new (g_direct_hash, g_direct_equal);
  s->reads = g_array_new (FALSE, FALSE, sizeof (Span));
  s->writes = g_array_new (FALSE, FALSE, sizeof (Span));
  s->labels = g_ptr_array_new ();
  s->derived = g_array_new (FALSE, FALSE, sizeof (Derived));
  s->validation_seen = g_atomic_int_get (&dev->validation_messages);
  s->skip_barriers = g_strcmp0 (g_getenv ("DIFFAE_DEBUG_SKIP_BARRIERS"), "1") == 0;
  return &s->base;
}

void
dae_vk_stream_free (DaeStream * base)
{
  VkStream *s = vs (base);
  DaeVkDevice *dev = dae_vk_dev (base->be);
  dae_vk_stream_sync (base);
  for (int i = 0; i < DAE_VK_SCRATCH_SLOTS; i++)
    dae_tensor_free (s->scratch[i]);
  for (guint i = 0; i < s->derived->len; i++)
    dae_tensor_free (g_array_index (s->derived, Derived, i).t);
  g_array_free (s->derived, TRUE);
  for (guint i = 0; i < s->desc_pools->len; i++)
    vk.DestroyDescriptorPool (dev->device, g_ptr_array_index (s->desc_pools, i), NULL);
  g_array_free (s->views, TRUE);
  if (s->queries)
    vk.DestroyQueryPool (dev->device, s->queries, NULL);
  vk.DestroyFence (dev->device, s->fence, NULL);
  vk.DestroyCommandPool (dev->device, s->pool, NULL);
  g_ptr_array_free (s->desc_pools, TRUE);
  g_ptr_array_free (s->staging, TRUE);
  g_hash_table_destroy (s->pinned);
  g_array_free (s->reads, TRUE);
  g_array_free (s->writes, TRUE);
  g_ptr_array_free (s->labels, TRUE);
  free (s);
}

/* ---- recording ------------------------------------------------------------------------- */

static void
begin (VkStream * s)
{
  if (s->recording)
    return;
  VkCommandBufferBeginInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  vk.BeginCommandBuffer (s->cmd, &info);
  s->recording = true;
  s->bound = VK_NULL_HANDLE;
}

static void
barrier (VkStream * s)
{
  VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT |
        VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
        VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
  };
  VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
      VK_PIPELINE_STAGE_TRANSFER_BIT;
  vk.CmdPipelineBarrier (s->cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
  g_array_set_size (s->reads, 0);
  g_array_set_size (s->writes, 0);
}

static bool
overlaps (GArray * spans, const Span * x)
{
  for (guint i = 0; i < spans->len; i++) {
    const Span *y = &g_array_index (spans, Span, i);
    if (y->buffer == x->buffer && x->lo < y->hi && y->lo < x->hi)
      return true;
  }
  return false;
}

/* Inserts a barrier if the accesses conflict with those since the last one, then notes them. */
static void
track (VkStream * s, const Span * spans, const bool *writes, int n)
{
  bool need = false;
  for (int i = 0; i < n && !need; i++) {
    if (!spans[i].buffer)
      continue;
    need = overlaps (s->writes, &spans[i]) || (writes[i] && overlaps (s->reads, &spans[i]));
  }
  if (need && !s->skip_barriers)
    barrier (s);
  for (int i = 0; i < n; i++) {
    if (spans[i].buffer)
      g_array_append_val (writes[i] ? s->writes : s->reads, spans[i]);
  }
}

static void
pin (VkStream * s, DaeVkDevice * dev, DaeVkStorage * st)
{
  if (g_hash_table_contains (s->pinned, st))
    return;
  g_mutex_lock (&dev->mem_lock);
  st->pins++;
  g_mutex_unlock (&dev->mem_lock);
  g_hash_table_add (s->pinned, st);
}

static Span
span_of (const DaeTensor * t)
{
  DaeVkStorage *st = dae_vk_storage (t);
  size_t first, count;
  dae_tensor_extent (t, &first, &count);
  Span sp = {
    .buffer = st->block->buffer,
    .lo = st->offset + 4 * first,
    .hi = st->offset + 4 * (first + count),
  };
  return sp;
}

static VkDescriptorSet
alloc_set (VkStream * s, DaeVkDevice * dev)
{
  if (s->sets_left == 0) {
    if (s->desc_pool_index >= s->desc_pools->len) {
      VkDescriptorPoolSize sizes[] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * DAE_VK_MAX_BINDINGS},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, SETS_PER_POOL * DAE_VK_TEXEL_VIEWS},
      };
      VkDescriptorPoolCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = SETS_PER_POOL,
        .poolSizeCount = G_N_ELEMENTS (sizes),
        .pPoolSizes = sizes,
      };
      VkDescriptorPool pool;
      if (vk.CreateDescriptorPool (dev->device, &info, NULL, &pool) != VK_SUCCESS)
        return VK_NULL_HANDLE;
      g_ptr_array_add (s->desc_pools, pool);
    }
    s->desc_pool_index++;
    s->sets_left = SETS_PER_POOL;
  }
  VkDescriptorSetAllocateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorPool = g_ptr_array_index (s->desc_pools, s->desc_pool_index - 1),
    .descriptorSetCount = 1,
    .pSetLayouts = &dev->set_layout,
  };
  VkDescriptorSet set = VK_NULL_HANDLE;
  vk.AllocateDescriptorSets (dev->device, &info, &set);
  s->sets_left--;
  return set;
}

static bool
profiling_slot (VkStream * s, DaeVkDevice * dev)
{
  if (!dae_profile_enabled () || !dev->timestamps)
    return false;
  if (!s->queries) {
    VkQueryPoolCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
      .queryType = VK_QUERY_TYPE_TIMESTAMP,
      .queryCount = QUERIES_PER_POOL,
    };
    if (vk.CreateQueryPool (dev->device, &info, NULL, &s->queries) != VK_SUCCESS)
      return false;
  }
  if (s->queries_used + 2 > QUERIES_PER_POOL)
    dae_vk_stream_sync (&s->base);      /* full: run what we have and start again */
  if (s->queries_used == 0) {
    begin (s);
    vk.CmdResetQueryPool (s->cmd, s->queries, 0, QUERIES_PER_POOL);
  }
  return true;
}

void
dae_vk_grid_1d (DaeStream * s, size_t count, uint32_t local, uint32_t * gx, uint32_t * gy)
{
  size_t groups = (count + local - 1) / local;
  size_t max_x = dae_vk_dev (s->be)->props.limits.maxComputeWorkGroupCount[0];
  if (groups == 0)
    groups = 1;
  if (groups <= max_x) {
    *gx = (uint32_t) groups;
    *gy = 1;
  } else {
    *gx = (uint32_t) MIN (max_x, 32768);
    *gy = (uint32_t) ((groups + *gx - 1) / *gx);
  }
}

/* Binds DAE_VK_TEXEL_BINDING + i to a texel view of argument i's binding where texels[i]
 * asks for one (texels NULL: none). The view starts where the storage binding starts, so the
 * element offsets in the push block hold for both (in vec4s: offset / 4, which callers keep
 * 16-byte aligned). */
static bool
write_texel_views (VkStream * s, DaeVkDevice * dev, VkDescriptorSet set, const DaeVkArg * args,
    int nargs, const uint8_t * texels, const VkDescriptorBufferInfo * infos)
{
  for (int i = 0; texels && i < DAE_VK_TEXEL_VIEWS; i++) {
    if (!texels[i])
      continue;
    g_assert (i < nargs && args[i].t && dev->texel_views);
    VkDeviceSize texel = texels[i] * 4u;
    VkDeviceSize range = infos[i].range / texel * texel;
    if (range / texel > dev->props.limits.maxTexelBufferElements) {
      dae_stream_fail (&s->base, DAE_ERR_INVALID,
          "a tensor view of %llu bytes exceeds the texel-buffer size of %s",
          (unsigned long long) range, dev->props.deviceName);
      return false;
    }
    VkBufferViewCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
      .buffer = infos[i].buffer,
      .format = texels[i] == 4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT,
      .offset = infos[i].offset,
      .range = range,
    };
    VkBufferView view;
    if (vk.CreateBufferView (dev->device, &info, NULL, &view) != VK_SUCCESS) {
      dae_stream_fail (&s->base, DAE_ERR_OUT_OF_MEMORY, "creating a texel-buffer view failed");
      return false;
    }
    g_array_append_val (s->views, view);
    VkWriteDescriptorSet w = {
      .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
      .dstSet = set,
      .dstBinding = (uint32_t) (DAE_VK_TEXEL_BINDING + i),
      .descriptorCount = 1,
      .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
      .pTexelBufferView = &view,
    };
    vk.UpdateDescriptorSets (dev->device, 1, &w, 0, NULL);
  }
  return true;
}

static bool
write_bindings (VkStream * s, DaeVkDevice * dev, VkDescriptorSet set, const DaeVkArg * args,
    int nargs, const uint8_t * texels, uint32_t * bases, Span * spans, bool *writes)
{
  VkDescriptorBufferInfo infos[DAE_VK_MAX_BINDINGS];
  VkWriteDescriptorSet w[DAE_VK_MAX_BINDINGS];
  for (int i = 0; i < DAE_VK_MAX_BINDINGS; i++) {
    const DaeTensor *t = i < nargs ? args[i].t : NULL;
    spans[i] = (Span) { 0 };
    writes[i] = false;
    bases[i] = 0;
    if (t) {
      spans[i] = span_of (t);
      writes[i] = args[i].write;
      VkDeviceSize bind_lo = spans[i].lo / dev->align * dev->align;
      VkDeviceSize range = spans[i].hi - bind_lo;
      if (range > dev->props.limits.maxStorageBufferRange) {
        dae_stream_fail (&s->base, DAE_ERR_INVALID,
            "a tensor view of %llu bytes exceeds the storage-buffer range of %s",
            (unsigned long long) range, dev->props.deviceName);
        return false;
      }
      bases[i] = (uint32_t) ((spans[i].lo - bind_lo) / 4);
      infos[i] = (VkDescriptorBufferInfo) { spans[i].buffer, bind_lo, range };
      pin (s, dev, dae_vk_storage (t));
      if (writes[i])
        g_atomic_pointer_add (&dae_vk_storage (t)->writes, 1);
    } else {
      /* An absent tensor (a gradient nobody wants) still needs a binding. The validation
       * layer counts a binding the shader may write as written, so the dummy is tracked like
       * any tensor: a second dispatch that may write it waits for the first. */
      infos[i] = (VkDescriptorBufferInfo) { dev->dummy->buffer, 0, VK_WHOLE_SIZE };
      spans[i] = (Span) { dev->dummy->buffer, 0, dev->dummy->size };
      writes[i] = i < nargs && args[i].write;
    }
    w[i] = (VkWriteDescriptorSet) {
      .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
      .dstSet = set,
      .dstBinding = (uint32_t) i,
      .descriptorCount = 1,
      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .pBufferInfo = &infos[i],
    };
  }
  vk.UpdateDescriptorSets (dev->device, DAE_VK_MAX_BINDINGS, w, 0, NULL);
  return write_texel_views (s, dev, set, args, nargs, texels, infos);
}

void
dae_vk_dispatch (DaeStream * base, const char *name, const uint32_t * spec, int nspec,
    const DaeVkArg * args, int nargs, const void *params, size_t params_size,
    uint32_t gx, uint32_t gy, uint32_t gz)
{
  dae_vk_dispatch_texels (base, name, spec, nspec, args, nargs, NULL, params, params_size,
      gx, gy, gz);
}

void
dae_vk_dispatch_texels (DaeStream * base, const char *name, const uint32_t * spec, int nspec,
    const DaeVkArg * args, int nargs, const uint8_t * texels, const void *params,
    size_t params_size, uint32_t gx, uint32_t gy, uint32_t gz)
{
  VkStream *s = vs (base);
  DaeVkDevice *dev = dae_vk_dev (base->be);
  if (base->error.code)
    return;
  if (g_atomic_int_get (&dev->lost)) {
    dae_stream_fail (base, DAE_ERR_DEVICE_LOST, "Vulkan device %s was lost earlier",
        dev->props.deviceName);
    return;
  }
  g_assert (nargs <= DAE_VK_MAX_BINDINGS && params_size <= DAE_VK_MAX_PARAMS);
  DaeVkPipeline *p = dae_vk_pipeline_get (dev, name, spec, nspec, &base->error);
  if (!p)
    return;
  bool timed = profiling_slot (s, dev);
  begin (s);
  VkDescriptorSet set = alloc_set (s, dev);
  if (!set) {
    dae_stream_fail (base, DAE_ERR_OUT_OF_MEMORY, "out of descriptor-pool memory");
    return;
  }
  uint32_t push[DAE_VK_PUSH_BYTES / 4] = { 0 };
  Span spans[DAE_VK_MAX_BINDINGS];
  bool writes[DAE_VK_MAX_BINDINGS];
  if (!write_bindings (s, dev, set, args, nargs, texels, push, spans, writes))
    return;
  memcpy (push + DAE_VK_MAX_BINDINGS, params, params_size);
  track (s, spans, writes, DAE_VK_MAX_BINDINGS);
  if (s->bound != p->pipeline) {
    vk.CmdBindPipeline (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    s->bound = p->pipeline;
  }
  vk.CmdBindDescriptorSets (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, dev->pipe_layout, 0, 1,
      &set, 0, NULL);
  vk.CmdPushConstants (s->cmd, dev->pipe_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
      DAE_VK_PUSH_BYTES, push);
  if (timed)
    vk.CmdWriteTimestamp (s->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, s->queries,
        s->queries_used);
  vk.CmdDispatch (s->cmd, gx, gy, gz);
  if (timed) {
    vk.CmdWriteTimestamp (s->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, s->queries,
        s->queries_used + 1);
    s->queries_used += 2;
    g_ptr_array_add (s->labels, (gpointer) p->name);
  }
}

bool
dae_vk_texels_enabled (DaeStream * s)
{
  const char *env = g_getenv ("DIFFAE_VK_TEXEL");
  return dae_vk_dev (s->be)->texel_views && !(env && strcmp (env, "0") == 0);
}

const DaeTensor *
dae_vk_scratch (DaeStream * base, int slot, size_t numel)
{
  VkStream *s = vs (base);
  g_assert (slot >= 0 && slot < DAE_VK_SCRATCH_SLOTS);
  DaeTensor *t = s->scratch[slot];
  if (t && dae_tensor_numel (t) >= numel)
    return t;
  dae_tensor_free (t);          /* kept alive by its pin if the recording uses it */
  s->scratch[slot] = dae_tensor_new (base->be, 1, 1, 1, (int) MAX (numel, 64), &base->error);
  return s->scratch[slot];
}

/* Drops the entries whose source has been freed (a serial is never reused, so such an entry
 * can never match again). */
static void
drop_dead_derived (VkStream * s, DaeVkDevice * dev)
{
  for (guint i = s->derived->len; i-- > 0;) {
    Derived *d = &g_array_index (s->derived, Derived, i);
    if (dae_vk_storage_live (dev, d->serial))
      continue;
    if (d->t) {
      s->derived_bytes -= dae_tensor_numel (d->t) * 4;
      dae_tensor_free (d->t);   /* kept alive by its pin if the recording uses it */
    }
    g_array_remove_index_fast (s->derived, i);
  }
}

static Derived *
find_derived (VkStream * s, guint64 serial, size_t first, size_t count, uint32_t kind)
{
  for (guint i = 0; i < s->derived->len; i++) {
    Derived *d = &g_array_index (s->derived, Derived, i);
    if (d->serial == serial && d->offset == first && d->numel == count && d->kind == kind)
      return d;
  }
  return NULL;
}

/* The entry of (src, kind), made (without a tensor) if there is none; *writes is src's
 * storage's write count now. */
static Derived *
derived_entry (VkStream * s, const DaeTensor * src, uint32_t kind, gssize * writes)
{
  DaeVkStorage *st = dae_vk_storage (src);
  *writes = g_atomic_pointer_get (&st->writes);
  size_t first, count;
  dae_tensor_extent (src, &first, &count);
  Derived *d = find_derived (s, st->serial, first, count, kind);
  if (d)
    return d;
  drop_dead_derived (s, dae_vk_dev (s->base.be));
  Derived fresh = { st->serial, first, count, kind, -1, NULL };
  g_array_append_val (s->derived, fresh);
  return &g_array_index (s->derived, Derived, s->derived->len - 1);
}

bool
dae_vk_derived_steady (DaeStream * base, const DaeTensor * src, uint32_t kind, size_t numel,
    size_t budget)
{
  if (!src->storage)
    return false;
  VkStream *s = vs (base);
  gssize writes;
  Derived *d = derived_entry (s, src, kind, &writes);
  bool steady = d->writes == writes;
  if (d->t)
    return steady;              /* it keeps the count it was filled at */
  d->writes = writes;
  return steady && s->derived_bytes + numel * 4 <= budget;
}

/* An entry whose source changed is refilled in place; entries of live sources are not
 * evicted, so a model larger than the budget has its first layers cached, the rest not. */
const DaeTensor *
dae_vk_derived (DaeStream * base, const DaeTensor * src, uint32_t kind, size_t numel,
    size_t budget, bool *stale)
{
  VkStream *s = vs (base);
  gssize writes;
  Derived *d = derived_entry (s, src, kind, &writes);
  /* The key (source view, kind) fixes what is derived, hence its size. */
  g_assert (!d->t || dae_tensor_numel (d->t) >= numel);
  if (!d->t) {
    if (s->derived_bytes + numel * 4 > budget)
      return NULL;
    d->t = dae_tensor_new (base->be, 1, 1, 1, (int) numel, &base->error);
    if (!d->t)
      return NULL;
    s->derived_bytes += numel * 4;
    d->writes = -1;
  }
  *stale = d->writes != writes;
  d->writes = writes;
  return d->t;
}

/* ---- submission ------------------------------------------------------------------------ */

static void
collect_profile (VkStream * s, DaeVkDevice * dev)
{
  if (!s->queries_used)
    return;
  guint64 *ticks = calloc (s->queries_used, sizeof *ticks);
  if (vk.GetQueryPoolResults (dev->device, s->queries, 0, s->queries_used,
          s->queries_used * sizeof *ticks, ticks, sizeof *ticks,
          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
    for (guint i = 0; i < s->labels->len; i++) {
      double ns = (double) (ticks[2 * i + 1] - ticks[2 * i]) * dev->timestamp_ns;
      dae_profile_add (g_ptr_array_index (s->labels, i), ns * 1e-9);
    }
  }
  free (ticks);
}

/* Everything the finished (or abandoned) recording held. */
static void
retire (VkStream * s, DaeVkDevice * dev, bool completed)
{
  if (completed)
    collect_profile (s, dev);
  s->queries_used = 0;
  g_ptr_array_set_size (s->labels, 0);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, s->pinned);
  while (g_hash_table_iter_next (&it, &key, NULL))
    dae_vk_storage_unpin (dev, key);
  g_hash_table_remove_all (s->pinned);
  for (guint i = 0; i < s->staging->len; i++)
    dae_vk_block_free (dev, g_ptr_array_index (s->staging, i));
  g_ptr_array_set_size (s->staging, 0);
  for (guint i = 0; i < s->views->len; i++)
    vk.DestroyBufferView (dev->device, g_array_index (s->views, VkBufferView, i), NULL);
  g_array_set_size (s->views, 0);
  for (guint i = 0; i < s->desc_pools->len; i++)
    vk.ResetDescriptorPool (dev->device, g_ptr_array_index (s->desc_pools, i), 0);
  s->desc_pool_index = 0;
  s->sets_left = 0;
  vk.ResetCommandPool (dev->device, s->pool, 0);
  g_array_set_size (s->reads, 0);
  g_array_set_size (s->writes, 0);
  s->recording = false;
}

static VkResult
submit_and_wait (VkStream * s, DaeVkDevice * dev)
{
  /* Make device writes visible to the host reads that follow the fence wait. */
  VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
  };
  vk.CmdPipelineBarrier (s->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
      VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
  VkResult r = vk.EndCommandBuffer (s->cmd);
  if (r != VK_SUCCESS)
    return r;
  if (dae_vk_fault ("device-lost"))
    return VK_ERROR_DEVICE_LOST;
  VkSubmitInfo info = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .commandBufferCount = 1,
    .pCommandBuffers = &s->cmd,
  };
  g_mutex_lock (&dev->queue_lock);
  r = vk.QueueSubmit (dev->queue, 1, &info, s->fence);
  g_mutex_unlock (&dev->queue_lock);
  if (r != VK_SUCCESS)
    return r;
  r = vk.WaitForFences (dev->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
  vk.ResetFences (dev->device, 1, &s->fence);
  return r;
}

DaeStatus
dae_vk_stream_sync (DaeStream * base)
{
  VkStream *s = vs (base);
  DaeVkDevice *dev = dae_vk_dev (base->be);
  if (s->recording) {
    VkResult r = VK_ERROR_DEVICE_LOST;
    if (!g_atomic_int_get (&dev->lost))
      r = submit_and_wait (s, dev);
    if (r == VK_ERROR_DEVICE_LOST)
      dae_vk_device_lost (base, r, "a submission");
    else if (r != VK_SUCCESS)
      dae_stream_fail (base, r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r ==
          VK_ERROR_OUT_OF_HOST_MEMORY ? DAE_ERR_OUT_OF_MEMORY : DAE_ERR_DEVICE,
          "submitting work to %s failed: %s", dev->props.deviceName, dae_vk_result_name (r));
    retire (s, dev, r == VK_SUCCESS);
  }
  if (g_atomic_int_get (&dev->lost))
    dae_stream_fail (base, DAE_ERR_DEVICE_LOST, "Vulkan device %s was lost",
        dev->props.deviceName);
  gint seen = g_atomic_int_get (&dev->validation_messages);
  if (seen > s->validation_seen) {
    s->validation_seen = seen;
    dae_stream_fail (base, DAE_ERR_VALIDATION, "Vulkan validation layer: %s",
        dev->first_validation_message);
  }
  return base->error.code;
}

/* ---- host transfers -------------------------------------------------------------------- */

static bool
idle_and_mapped (VkStream * s, DaeVkDevice * dev, DaeVkStorage * st)
{
  if (!st->block->mapped || g_hash_table_contains (s->pinned, st))
    return false;
  g_mutex_lock (&dev->mem_lock);
  bool idle = st->pins == 0;
  g_mutex_unlock (&dev->mem_lock);
  return idle;
}

/* Copies between host memory and a (possibly strided) tensor in mapped memory. */
static void
copy_mapped (const DaeTensor * t, float *host, bool to_tensor)
{
  DaeVkStorage *st = dae_vk_storage (t);
  float *base = (float *) ((char *) st->block->mapped + st->offset) + t->offset;
  size_t sample = dae_tensor_sample_size (t);
  for (int n = 0; n < t->n; n++) {
    float *dev_ptr = base + (size_t) n * t->nstride;
    if (to_tensor)
      memcpy (dev_ptr, host + n * sample, sample * 4);
    else
      memcpy (host + n * sample, dev_ptr, sample * 4);
  }
}

static void
record_copy (VkStream * s, VkBuffer src, VkDeviceSize src_off, VkBuffer dst,
    VkDeviceSize dst_off, const DaeTensor * t, bool to_tensor)
{
  size_t sample = dae_tensor_sample_size (t);
  VkBufferCopy *regions = calloc ((size_t) t->n, sizeof *regions);
  for (int n = 0; n < t->n; n++) {
    VkDeviceSize host_off = (VkDeviceSize) n * sample * 4;
    VkDeviceSize dev_off = (VkDeviceSize) n * t->nstride * 4;
    regions[n].srcOffset = src_off + (to_tensor ? host_off : dev_off);
    regions[n].dstOffset = dst_off + (to_tensor ? dev_off : host_off);
    regions[n].size = sample * 4;
  }
  vk.CmdCopyBuffer (s->cmd, src, dst, (uint32_t) t->n, regions);
  free (regions);
}

void
dae_vk_tensor_write (DaeStream * base, const DaeTensor * t, const float *src)
{
  VkStream *s = vs (base);
  DaeVkDevice *dev = dae_vk_dev (base->be);
  DaeVkStorage *st = dae_vk_storage (t);
  size_t bytes = dae_tensor_numel (t) * 4;
  g_atomic_pointer_add (&st->writes, 1);
  if (idle_and_mapped (s, dev, st)) {
    copy_mapped (t, (float *) src, true);
    return;
  }
  begin (s);
  Span sp = span_of (t);
  bool w = true;
  track (s, &sp, &w, 1);
  pin (s, dev, st);
  VkDeviceSize dst_off = sp.lo;
  if (bytes <= UPDATE_BUFFER_MAX && dae_tensor_is_contiguous (t)) {
    vk.CmdUpdateBuffer (s->cmd, sp.buffer, dst_off, bytes, src);
    return;
  }
  DaeVkBlock *stage = dae_vk_block_new (dev, bytes, dev->staging_type, &base->error);
  if (!stage)
    return;
  memcpy (stage->mapped, src, bytes);
  g_ptr_array_add (s->staging, stage);
  record_copy (s, stage->buffer, 0, sp.buffer, dst_off, t, true);
}

void
dae_vk_tensor_read (DaeStream * base, const DaeTensor * t, float *dst)
{
  VkStream *s = vs (base);
  DaeVkDevice *dev = dae_vk_dev (base->be);
  DaeVkStorage *st = dae_vk_storage (t);
  if (st->block->mapped) {      /* the stream was synchronised by the caller */
    copy_mapped (t, dst, false);
    return;
  }
  size_t bytes = dae_tensor_numel (t) * 4;
  DaeVkBlock *stage = dae_vk_block_new (dev, bytes, dev->staging_type, &base->error);
  if (!stage)
    return;
  begin (s);
  Span sp = span_of (t);
  bool w = false;
  track (s, &sp, &w, 1);
  pin (s, dev, st);
  record_copy (s, sp.buffer, sp.lo, stage->buffer, 0, t, false);
  if (dae_vk_stream_sync (base) == DAE_OK)
    memcpy (dst, stage->mapped, bytes);
  dae_vk_block_free (dev, stage);
}
