/* Device memory for tensors: large blocks (one VkBuffer each) carved into aligned ranges.
 *
 * Many small tensors (a UNet has hundreds of weights) share a few allocations, as drivers
 * limit the number of allocations and each one costs. A range freed while a recording that
 * uses it is still pending stays reserved until that recording completes (pins). */
#include "vk_backend.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES ((VkDeviceSize) 64 << 20)

typedef struct {
  VkDeviceSize offset, size;
} Range;

static int
find_type (DaeVkDevice * dev, uint32_t bits, VkMemoryPropertyFlags want)
{
  for (uint32_t i = 0; i < dev->mem_props.memoryTypeCount; i++) {
    if ((bits & (1u << i)) && (dev->mem_props.memoryTypes[i].propertyFlags & want) == want)
      return (int) i;
  }
  return -1;
}

static bool
type_is_mappable (DaeVkDevice * dev, uint32_t type)
{
  VkMemoryPropertyFlags f = dev->mem_props.memoryTypes[type].propertyFlags;
  return (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
}

static VkBufferUsageFlags
buffer_usage (void)
{
  return VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
      VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
}

DaeVkBlock *
dae_vk_block_new (DaeVkDevice * dev, VkDeviceSize size, uint32_t type, DaeError * err)
{
  DaeVkBlock *b = calloc (1, sizeof *b);
  b->size = size;
  VkBufferCreateInfo binfo = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = size,
    .usage = buffer_usage (),
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  VkResult r = vk.CreateBuffer (dev->device, &binfo, NULL, &b->buffer);
  if (r != VK_SUCCESS) {
    free (b);
    dae_error_set (err, DAE_ERR_OUT_OF_MEMORY, "vkCreateBuffer of %llu bytes failed: %s",
        (unsigned long long) size, dae_vk_result_name (r));
    return NULL;
  }
  VkMemoryRequirements req;
  vk.GetBufferMemoryRequirements (dev->device, b->buffer, &req);
  VkMemoryAllocateInfo ainfo = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .allocationSize = req.size,
    .memoryTypeIndex = type,
  };
  r = vk.AllocateMemory (dev->device, &ainfo, NULL, &b->memory);
  if (r != VK_SUCCESS) {
    vk.DestroyBuffer (dev->device, b->buffer, NULL);
    free (b);
    dae_error_set (err, DAE_ERR_OUT_OF_MEMORY,
        "out of device memory: allocating %llu bytes on %s failed (%s)",
        (unsigned long long) req.size, dev->props.deviceName, dae_vk_result_name (r));
    return NULL;
  }
  vk.BindBufferMemory (dev->device, b->buffer, b->memory, 0);
  if (type_is_mappable (dev, type))
    vk.MapMemory (dev->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
  b->free_ranges = g_array_new (FALSE, FALSE, sizeof (Range));
  Range all = { 0, size };
  g_array_append_val (b->free_ranges, all);
  return b;
}

void
dae_vk_block_free (DaeVkDevice * dev, DaeVkBlock * b)
{
  if (!b)
    return;
  if (b->mapped)
    vk.UnmapMemory (dev->device, b->memory);
  vk.DestroyBuffer (dev->device, b->buffer, NULL);
  vk.FreeMemory (dev->device, b->memory, NULL);
  g_array_free (b->free_ranges, TRUE);
  free (b);
}

/* First fit. Returns false when no free range is large enough. */
static bool
block_take (DaeVkBlock * b, VkDeviceSize size, VkDeviceSize * offset)
{
  for (guint i = 0; i < b->free_ranges->len; i++) {
    Range *r = &g_array_index (b->free_ranges, Range, i);
    if (r->size < size)
      continue;
    *offset = r->offset;
    r->offset += size;
    r->size -= size;
    if (r->size == 0)
      g_array_remove_index (b->free_ranges, i);
    return true;
  }
  return false;
}

static void
block_give (DaeVkBlock * b, VkDeviceSize offset, VkDeviceSize size)
{
  GArray *fr = b->free_ranges;
  guint i = 0;
  while (i < fr->len && g_array_index (fr, Range, i).offset < offset)
    i++;
  Range r = { offset, size };
  g_array_insert_val (fr, i, r);
  /* Coalesce with the next, then with the previous neighbour. */
  if (i + 1 < fr->len) {
    Range *cur = &g_array_index (fr, Range, i), *next = &g_array_index (fr, Range, i + 1);
    if (cur->offset + cur->size == next->offset) {
      cur->size += next->size;
      g_array_remove_index (fr, i + 1);
    }
  }
  if (i > 0) {
    Range *prev = &g_array_index (fr, Range, i - 1), *cur = &g_array_index (fr, Range, i);
    if (prev->offset + prev->size == cur->offset) {
      prev->size += cur->size;
      g_array_remove_index (fr, i);
    }
  }
}

DaeStatus
dae_vk_memory_init (DaeVkDevice * dev, DaeError * err)
{
  /* Probe the memory types a storage buffer may use. */
  VkBuffer probe;
  VkBufferCreateInfo binfo = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = 4096,
    .usage = buffer_usage (),
  };
  if (vk.CreateBuffer (dev->device, &binfo, NULL, &probe) != VK_SUCCESS)
    return dae_error_set (err, DAE_ERR_DEVICE, "vkCreateBuffer failed on %s",
        dev->props.deviceName);
  VkMemoryRequirements req;
  vk.GetBufferMemoryRequirements (dev->device, probe, &req);
  vk.DestroyBuffer (dev->device, probe, NULL);
  int local = find_type (dev, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  int host = find_type (dev, req.memoryTypeBits,
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
      VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  if (host < 0)
    host = find_type (dev, req.memoryTypeBits,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  if (host < 0)
    return dae_error_set (err, DAE_ERR_DEVICE,
        "Vulkan device %s has no host-visible coherent memory for transfers",
        dev->props.deviceName);
  dev->device_type = (uint32_t) (local >= 0 ? local : host);
  dev->staging_type = (uint32_t) host;
  dev->heap_size =
      dev->mem_props.memoryHeaps[dev->mem_props.memoryTypes[dev->device_type].heapIndex].size;
  dev->align = MAX (dev->props.limits.minStorageBufferOffsetAlignment, 256);
  dev->align = MAX (dev->align, req.alignment);
  /* a binding's start is also the start of its texel view */
  dev->align = MAX (dev->align, dev->props.limits.minTexelBufferOffsetAlignment);
  dev->blocks = g_ptr_array_new ();
  dev->live_serials = g_hash_table_new (g_direct_hash, g_direct_equal);
  dev->dummy = dae_vk_block_new (dev, 256, dev->device_type, err);
  return dev->dummy ? DAE_OK : err->code;
}

void
dae_vk_memory_cleanup (DaeVkDevice * dev)
{
  if (dev->blocks) {
    for (guint i = 0; i < dev->blocks->len; i++)
      dae_vk_block_free (dev, g_ptr_array_index (dev->blocks, i));
    g_ptr_array_free (dev->blocks, TRUE);
  }
  if (dev->live_serials)
    g_hash_table_destroy (dev->live_serials);
  dae_vk_block_free (dev, dev->dummy);
}

static DaeVkBlock *
grow (DaeVkDevice * dev, VkDeviceSize size, DaeError * err)
{
  bool dedicated = size > BLOCK_BYTES / 2;
  if (dae_vk_fault ("oom")) {
    dae_error_set (err, DAE_ERR_OUT_OF_MEMORY,
        "out of device memory: allocating %llu bytes on %s failed (injected by DIFFAE_FAULT)",
        (unsigned long long) (dedicated ? size : BLOCK_BYTES), dev->props.deviceName);
    return NULL;
  }
  DaeVkBlock *b = dae_vk_block_new (dev, dedicated ? size : BLOCK_BYTES, dev->device_type, err);
  if (b) {
    b->dedicated = dedicated;
    g_ptr_array_add (dev->blocks, b);
  }
  return b;
}

DaeStorage *
dae_vk_storage_new (DaeBackend * be, size_t bytes, DaeError * err)
{
  DaeVkDevice *dev = dae_vk_dev (be);
  VkDeviceSize size = (bytes + dev->align - 1) / dev->align * dev->align;
  if (size > dev->heap_size) {
    dae_error_set (err, DAE_ERR_OUT_OF_MEMORY,
        "out of device memory: a tensor of %zu bytes was asked for, but the memory heap of %s "
        "holds %llu bytes", bytes, dev->props.deviceName,
        (unsigned long long) dev->heap_size);
    return NULL;
  }
  /* Larger than one binding may be (flat parameter buffers are): each dispatch binds only
   * the view it uses, and vk_stream.c refuses a view beyond maxStorageBufferRange. */
  DaeVkStorage *st = calloc (1, sizeof *st);
  g_mutex_lock (&dev->mem_lock);
  DaeVkBlock *block = NULL;
  VkDeviceSize offset = 0;
  for (guint i = 0; i < dev->blocks->len && !block; i++) {
    DaeVkBlock *b = g_ptr_array_index (dev->blocks, i);
    if (block_take (b, size, &offset))
      block = b;
  }
  if (!block) {
    block = grow (dev, size, err);
    if (block)
      block_take (block, size, &offset);
  }
  if (block) {
    st->serial = ++dev->serials;
    g_hash_table_add (dev->live_serials, GSIZE_TO_POINTER (st->serial));
  }
  g_mutex_unlock (&dev->mem_lock);
  if (!block) {
    free (st);
    return NULL;
  }
  st->block = block;
  st->offset = offset;
  st->size = size;
  return &st->base;
}

static void
release (DaeVkDevice * dev, DaeVkStorage * st)
{
  g_mutex_lock (&dev->mem_lock);
  DaeVkBlock *b = st->block;
  block_give (b, st->offset, st->size);
  /* Give dedicated blocks back to the driver at once: they hold one large tensor. */
  if (b->dedicated && b->free_ranges->len == 1 &&
      g_array_index (b->free_ranges, Range, 0).size == b->size) {
    g_ptr_array_remove (dev->blocks, b);
    dae_vk_block_free (dev, b);
  }
  g_mutex_unlock (&dev->mem_lock);
  free (st);
}

void
dae_vk_storage_free (DaeStorage * storage)
{
  DaeVkStorage *st = (DaeVkStorage *) storage;
  DaeVkDevice *dev = dae_vk_dev (storage->be);
  g_mutex_lock (&dev->mem_lock);
  st->freed = TRUE;
  g_hash_table_remove (dev->live_serials, GSIZE_TO_POINTER (st->serial));
  bool now = st->pins == 0;
  g_mutex_unlock (&dev->mem_lock);
  if (now)
    release (dev, st);
}

bool
dae_vk_storage_live (DaeVkDevice * dev, guint64 serial)
{
  g_mutex_lock (&dev->mem_lock);
  bool live = g_hash_table_contains (dev->live_serials, GSIZE_TO_POINTER (serial));
  g_mutex_unlock (&dev->mem_lock);
  return live;
}

void
dae_vk_storage_unpin (DaeVkDevice * dev, DaeVkStorage * st)
{
  g_mutex_lock (&dev->mem_lock);
  bool now = --st->pins == 0 && st->freed;
  g_mutex_unlock (&dev->mem_lock);
  if (now)
    release (dev, st);
}
