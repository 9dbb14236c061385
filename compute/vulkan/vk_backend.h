/* The Vulkan backend's internals, shared by its files and by the Vulkan op implementations.
 *
 *  vk_device.c    instance, device choice, queue, validation messages, backend lifetime
 *  vk_memory.c    block allocator for tensors (device-local), staging buffers
 *  vk_pipeline.c  embedded SPIR-V, on-disk pipeline cache, pipelines keyed by specialisation
 *  vk_stream.c    recording: one command buffer per stream, hazard-tracked barriers,
 *                 submit/wait, host transfers, timestamps
 *  vk_ops_*.c     the ops, each a call to dae_vk_dispatch() */
#ifndef DAE_VK_BACKEND_H
#define DAE_VK_BACKEND_H

#include "core/dae_backend_impl.h"
#include "vk_loader.h"

/* Every pipeline uses one descriptor-set layout of DAE_VK_MAX_BINDINGS storage buffers and one
 * push-constant block of 128 bytes (the minimum every device has, and lavapipe's maximum).
 * The first 8 words of the push block are the element offsets of the bound tensors within
 * their binding (bindings start at the alignment the device needs); the op's own parameters
 * follow (at most DAE_VK_MAX_PARAMS bytes). */
#define DAE_VK_MAX_BINDINGS 8
/* After the storage buffers come DAE_VK_TEXEL_VIEWS uniform texel buffers: binding
 * DAE_VK_TEXEL_BINDING + i views the tensor of binding i (i < DAE_VK_TEXEL_VIEWS) as floats
 * or vec4s, for the shaders that ask for it (dae_vk_dispatch_texels). Lavapipe (Mesa 22.3)
 * compiles a texel fetch to a gather but a storage-buffer load to a loop over the SIMD lanes. */
#define DAE_VK_TEXEL_BINDING DAE_VK_MAX_BINDINGS
#define DAE_VK_TEXEL_VIEWS 2
#define DAE_VK_PUSH_BYTES 128
#define DAE_VK_MAX_PARAMS (DAE_VK_PUSH_BYTES - 4 * DAE_VK_MAX_BINDINGS)
#define DAE_VK_MAX_SPEC 8

typedef struct DaeVkBlock DaeVkBlock;

typedef struct {
  DaeStorage base;
  DaeVkBlock *block;
  VkDeviceSize offset;          /* bytes within the block */
  VkDeviceSize size;            /* bytes reserved (aligned) */
  gint pins;                    /* recordings not yet completed that use this storage */
  gboolean freed;               /* released by its owner; returns to the block when unpinned */
  guint64 serial;               /* unique on the device: names the storage in caches */
  gssize writes;                /* writes recorded so far (atomic): a cache of tensors derived
                                 * from this storage is valid while it has not changed */
} DaeVkStorage;

struct DaeVkBlock {
  VkBuffer buffer;
  VkDeviceMemory memory;
  VkDeviceSize size;
  void *mapped;                 /* non-NULL when the memory is host-visible and coherent */
  GArray *free_ranges;          /* sorted, coalesced (offset, size) pairs */
  gboolean dedicated;
};

typedef struct {
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDevice physical;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem_props;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  GMutex queue_lock;            /* vkQueueSubmit needs external synchronisation */
  gboolean timestamps;          /* the queue family has valid timestamp bits */
  double timestamp_ns;          /* nanoseconds per tick */
  /* memory */
  GMutex mem_lock;
  GPtrArray *blocks;
  guint64 serials;              /* storages made so far */
  GHashTable *live_serials;     /* serials of the storages not freed */
  uint32_t device_type;         /* memory type index for tensors */
  uint32_t staging_type;        /* host-visible, coherent */
  VkDeviceSize heap_size;       /* of device_type's heap */
  VkDeviceSize align;           /* binding offset alignment (>= 256) */
  gboolean texel_views;         /* R32 and R32G32B32A32 float uniform texel buffers work */
  DaeVkBlock *dummy;            /* bound to unused binding slots */
  /* pipelines */
  GMutex pipe_lock;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout pipe_layout;
  VkPipelineCache cache;
  char *cache_path;
  size_t cache_loaded_bytes;
  GHashTable *pipelines;        /* "name|spec..." -> DaeVkPipeline* */
  GHashTable *modules;          /* name -> VkShaderModule */
  double pipeline_create_seconds;
  int pipelines_created;
  /* failures */
  gint lost;                    /* the device was lost: every later sync fails */
  gint validation_messages;
  char first_validation_message[512];
} DaeVkDevice;

typedef struct {
  DaeBackend base;
  DaeVkDevice dev;
} DaeVkBackend;

typedef struct {
  VkPipeline pipeline;
  const char *name;             /* shader name, for profiles */
} DaeVkPipeline;

static inline DaeVkDevice *
dae_vk_dev (DaeBackend * be)
{
  return &((DaeVkBackend *) be)->dev;
}

static inline DaeVkStorage *
dae_vk_storage (const DaeTensor * t)
{
  return (DaeVkStorage *) t->storage;
}

/* vk_memory.c */
DaeStorage *dae_vk_storage_new (DaeBackend * be, size_t bytes, DaeError * err);
void dae_vk_storage_free (DaeStorage * st);
void dae_vk_storage_unpin (DaeVkDevice * dev, DaeVkStorage * st);
/* Whether the storage of this serial exists (has not been freed by its owner). */
bool dae_vk_storage_live (DaeVkDevice * dev, guint64 serial);
DaeStatus dae_vk_memory_init (DaeVkDevice * dev, DaeError * err);
void dae_vk_memory_cleanup (DaeVkDevice * dev);
/* A standalone host-visible buffer (staging); NULL with err set on failure. */
DaeVkBlock *dae_vk_block_new (DaeVkDevice * dev, VkDeviceSize size, uint32_t type,
    DaeError * err);
void dae_vk_block_free (DaeVkDevice * dev, DaeVkBlock * b);

/* vk_pipeline.c */
DaeStatus dae_vk_pipelines_init (DaeVkDevice * dev, DaeError * err);
void dae_vk_pipelines_cleanup (DaeVkDevice * dev);
/* The pipeline for shader `name` with the given specialisation constants (ids 0..nspec-1). */
DaeVkPipeline *dae_vk_pipeline_get (DaeVkDevice * dev, const char *name, const uint32_t * spec,
    int nspec, DaeError * err);
void dae_vk_pipeline_cache_save (DaeVkDevice * dev);

/* vk_stream.c: recording and dispatch, used by every Vulkan op. */
typedef struct {
  const DaeTensor *t;           /* NULL: an unused slot */
  bool write;
} DaeVkArg;

/* Records one dispatch of shader `name` with tensors bound to bindings 0..nargs-1 and the
 * op's parameters after the offsets in the push block. Inserts a barrier first when a tensor
 * it reads or writes overlaps memory written (or, for writes, read) since the last barrier. */
void dae_vk_dispatch (DaeStream * s, const char *name, const uint32_t * spec, int nspec,
    const DaeVkArg * args, int nargs, const void *params, size_t params_size,
    uint32_t groups_x, uint32_t groups_y, uint32_t groups_z);
/* As dae_vk_dispatch, and binding DAE_VK_TEXEL_BINDING + i is a texel view of argument i
 * (a tensor) with texel[i] floats per texel (1 or 4; 0: none), i < DAE_VK_TEXEL_VIEWS. The
 * device must have texel views (DaeVkDevice.texel_views); a view of 4 floats needs the
 * tensor's offset in its binding to be a multiple of 4. */
void dae_vk_dispatch_texels (DaeStream * s, const char *name, const uint32_t * spec, int nspec,
    const DaeVkArg * args, int nargs, const uint8_t * texel,
    const void *params, size_t params_size, uint32_t groups_x, uint32_t groups_y,
    uint32_t groups_z);
/* Whether s may bind texel views: the device has them and $DIFFAE_VK_TEXEL is not 0 (which
 * keeps every op on its storage-buffer variant, for tests and comparisons). */
bool dae_vk_texels_enabled (DaeStream * s);

/* Splits a 1-D launch of `count` invocations in workgroups of `local` into x/y group counts
 * within the device's limits (shaders rebuild the index with dae_linear_id()). */
void dae_vk_grid_1d (DaeStream * s, size_t count, uint32_t local, uint32_t * gx, uint32_t * gy);

/* A scratch tensor of at least `numel` floats owned by the stream; the slots are independent
 * (0: reductions' partials, 1: bias-gradient partials, 2: flipped weights, 3-5: the Winograd
 * convolution's transforms). It stays valid until the next call with the same slot; hazards
 * are tracked like any tensor. */
#define DAE_VK_SCRATCH_SLOTS 6
const DaeTensor *dae_vk_scratch (DaeStream * s, int slot, size_t numel);

/* A per-stream cache of tensors computed from another one (the Winograd convolution's
 * transformed weights): the entry for (src, kind), of at least `numel` floats. Sets *stale to
 * false when the entry was made from src as src is now (no write to src's storage recorded
 * since), to true when the caller must fill it (it then counts as made from src as it is).
 * NULL when the cache would grow beyond `budget` bytes: the caller computes into scratch. */
const DaeTensor *dae_vk_derived (DaeStream * s, const DaeTensor * src, uint32_t kind,
    size_t numel, size_t budget, bool *stale);
/* Whether src has been looked at for `kind` before (by this call or dae_vk_derived) and not
 * written since, and its entry is made or would fit (`numel` floats within `budget` bytes):
 * a tensor derived from it would be kept and reused. Notes this look. False for a tensor
 * without storage (a shape). */
bool dae_vk_derived_steady (DaeStream * s, const DaeTensor * src, uint32_t kind, size_t numel,
    size_t budget);

DaeStream *dae_vk_stream_new (DaeBackend * be, DaeError * err);
void dae_vk_stream_free (DaeStream * s);
DaeStatus dae_vk_stream_sync (DaeStream * s);
void dae_vk_tensor_write (DaeStream * s, const DaeTensor * t, const float *src);
void dae_vk_tensor_read (DaeStream * s, const DaeTensor * t, float *dst);

/* vk_device.c: fault injection for tests ($DIFFAE_FAULT=device-lost|oom|no-compute-queue).
 * Returns true (once per process for device-lost and oom) when that fault is requested. */
bool dae_vk_fault (const char *what);
/* Marks the device lost and records why in the stream. */
void dae_vk_device_lost (DaeStream * s, VkResult r, const char *during);

/* Op registration, one per op family file. */
void dae_vk_register_basic (DaeOpsTable * t);
void dae_vk_register_gemm (DaeOpsTable * t);
void dae_vk_register_norm (DaeOpsTable * t);
void dae_vk_register_attention (DaeOpsTable * t);
void dae_vk_register_train (DaeOpsTable * t);
void dae_vk_register_diffusion (DaeOpsTable * t);

#endif
