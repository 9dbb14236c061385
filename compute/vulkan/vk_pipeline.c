/* Compute pipelines from the SPIR-V embedded at build time, and the on-disk pipeline cache.
 *
 * The cache matters most on lavapipe, which compiles SPIR-V to machine code with LLVM on
 * every pipeline creation (hundreds of milliseconds for a large shader). It lives in
 * $DIFFAE_CACHE_DIR or $XDG_CACHE_HOME/diffae, one file per device, and is only used when its
 * header names the same vendor, device and pipelineCacheUUID. */
#include "vk_backend.h"
#include "dae_shaders.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

static const DaeShaderCode *
find_shader (const char *name)
{
  for (size_t i = 0; i < dae_shader_count; i++)
    if (strcmp (dae_shader_table[i].name, name) == 0)
      return &dae_shader_table[i];
  return NULL;
}

static char *
cache_path (DaeVkDevice * dev)
{
  const char *dir = g_getenv ("DIFFAE_CACHE_DIR");
  char *base = dir ? g_strdup (dir) : g_build_filename (g_get_user_cache_dir (), "diffae", NULL);
  GString *uuid = g_string_new (NULL);
  for (unsigned i = 0; i < VK_UUID_SIZE; i++)
    g_string_append_printf (uuid, "%02x", dev->props.pipelineCacheUUID[i]);
  char *file = g_strdup_printf ("pipelines-%04x-%04x-%s.bin", dev->props.vendorID,
      dev->props.deviceID, uuid->str);
  char *path = g_build_filename (base, file, NULL);
  g_string_free (uuid, TRUE);
  g_free (file);
  g_free (base);
  return path;
}

/* The data only when its header matches this device; otherwise none (the driver would also
 * reject it, but some drivers have crashed on foreign caches). */
static bool
cache_header_matches (DaeVkDevice * dev, const guint8 * data, gsize len)
{
  if (len < 16 + VK_UUID_SIZE)
    return false;
  guint32 words[4];
  memcpy (words, data, sizeof words);
  return words[0] >= 16 + VK_UUID_SIZE && words[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
      words[2] == dev->props.vendorID && words[3] == dev->props.deviceID &&
      memcmp (data + 16, dev->props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

static void
cache_create (DaeVkDevice * dev)
{
  dev->cache_path = cache_path (dev);
  gchar *data = NULL;
  gsize len = 0;
  VkPipelineCacheCreateInfo info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
  if (g_file_get_contents (dev->cache_path, &data, &len, NULL) &&
      cache_header_matches (dev, (const guint8 *) data, len)) {
    info.initialDataSize = len;
    info.pInitialData = data;
  }
  if (vk.CreatePipelineCache (dev->device, &info, NULL, &dev->cache) == VK_SUCCESS)
    dev->cache_loaded_bytes = info.initialDataSize;
  else if (info.initialDataSize) {
    info.initialDataSize = 0;
    info.pInitialData = NULL;
    vk.CreatePipelineCache (dev->device, &info, NULL, &dev->cache);
  }
  g_free (data);
}

void
dae_vk_pipeline_cache_save (DaeVkDevice * dev)
{
  if (!dev->cache || dev->pipelines_created == 0)
    return;
  size_t len = 0;
  if (vk.GetPipelineCacheData (dev->device, dev->cache, &len, NULL) != VK_SUCCESS || !len)
    return;
  void *data = malloc (len);
  if (vk.GetPipelineCacheData (dev->device, dev->cache, &len, data) == VK_SUCCESS) {
    char *dir = g_path_get_dirname (dev->cache_path);
    g_mkdir_with_parents (dir, 0700);
    g_free (dir);
    /* g_file_set_contents writes a temporary file and renames it: never a torn cache. */
    g_file_set_contents (dev->cache_path, data, (gssize) len, NULL);
  }
  free (data);
}

DaeStatus
dae_vk_pipelines_init (DaeVkDevice * dev, DaeError * err)
{
  enum { NBINDINGS = DAE_VK_MAX_BINDINGS + DAE_VK_TEXEL_VIEWS };
  VkDescriptorSetLayoutBinding bindings[NBINDINGS];
  for (uint32_t i = 0; i < NBINDINGS; i++) {
    bindings[i] = (VkDescriptorSetLayoutBinding) {
      .binding = i,
      .descriptorType = i < DAE_VK_TEXEL_BINDING ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER :
          VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  }
  VkDescriptorSetLayoutCreateInfo sinfo = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = NBINDINGS,
    .pBindings = bindings,
  };
  VkPushConstantRange push = {
    .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    .size = DAE_VK_PUSH_BYTES,
  };
  VkPipelineLayoutCreateInfo linfo = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1,
    .pSetLayouts = &dev->set_layout,
    .pushConstantRangeCount = 1,
    .pPushConstantRanges = &push,
  };
  if (vk.CreateDescriptorSetLayout (dev->device, &sinfo, NULL, &dev->set_layout) != VK_SUCCESS
      || vk.CreatePipelineLayout (dev->device, &linfo, NULL, &dev->pipe_layout) != VK_SUCCESS)
    return dae_error_set (err, DAE_ERR_DEVICE, "creating the pipeline layout on %s failed",
        dev->props.deviceName);
  cache_create (dev);
  dev->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free);
  dev->modules = g_hash_table_new (g_str_hash, g_str_equal);
  return DAE_OK;
}

void
dae_vk_pipelines_cleanup (DaeVkDevice * dev)
{
  if (dev->pipelines) {
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init (&it, dev->pipelines);
    while (g_hash_table_iter_next (&it, &key, &value))
      vk.DestroyPipeline (dev->device, ((DaeVkPipeline *) value)->pipeline, NULL);
    g_hash_table_destroy (dev->pipelines);
  }
  if (dev->modules) {
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init (&it, dev->modules);
    while (g_hash_table_iter_next (&it, &key, &value))
      vk.DestroyShaderModule (dev->device, (VkShaderModule) value, NULL);
    g_hash_table_destroy (dev->modules);
  }
  if (dev->cache)
    vk.DestroyPipelineCache (dev->device, dev->cache, NULL);
  if (dev->pipe_layout)
    vk.DestroyPipelineLayout (dev->device, dev->pipe_layout, NULL);
  if (dev->set_layout)
    vk.DestroyDescriptorSetLayout (dev->device, dev->set_layout, NULL);
  g_free (dev->cache_path);
}

static VkShaderModule
get_module (DaeVkDevice * dev, const DaeShaderCode * code, DaeError * err)
{
  VkShaderModule m = g_hash_table_lookup (dev->modules, code->name);
  if (m)
    return m;
  VkShaderModuleCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
    .codeSize = code->size,
    .pCode = code->code,
  };
  VkResult r = vk.CreateShaderModule (dev->device, &info, NULL, &m);
  if (r != VK_SUCCESS) {
    dae_error_set (err, DAE_ERR_DEVICE, "creating shader module %s failed: %s", code->name,
        dae_vk_result_name (r));
    return VK_NULL_HANDLE;
  }
  g_hash_table_insert (dev->modules, (gpointer) code->name, m);
  return m;
}

static DaeVkPipeline *
create_pipeline (DaeVkDevice * dev, const DaeShaderCode * code, const uint32_t * spec,
    int nspec, DaeError * err)
{
  VkShaderModule module = get_module (dev, code, err);
  if (!module)
    return NULL;
  VkSpecializationMapEntry entries[DAE_VK_MAX_SPEC];
  for (int i = 0; i < nspec; i++)
    entries[i] = (VkSpecializationMapEntry) {
    (uint32_t) i, (uint32_t) (4 * i), 4};
  VkSpecializationInfo sinfo = {
    .mapEntryCount = (uint32_t) nspec,
    .pMapEntries = entries,
    .dataSize = 4 * (size_t) nspec,
    .pData = spec,
  };
  VkComputePipelineCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
      .module = module,
      .pName = "main",
      .pSpecializationInfo = nspec ? &sinfo : NULL,
    },
    .layout = dev->pipe_layout,
  };
  DaeVkPipeline *p = calloc (1, sizeof *p);
  p->name = code->name;
  gint64 t0 = g_get_monotonic_time ();
  VkResult r = vk.CreateComputePipelines (dev->device, dev->cache, 1, &info, NULL, &p->pipeline);
  dev->pipeline_create_seconds += (g_get_monotonic_time () - t0) / 1e6;
  if (r != VK_SUCCESS) {
    free (p);
    dae_error_set (err, DAE_ERR_DEVICE, "creating compute pipeline %s failed: %s", code->name,
        dae_vk_result_name (r));
    return NULL;
  }
  dev->pipelines_created++;
  return p;
}

DaeVkPipeline *
dae_vk_pipeline_get (DaeVkDevice * dev, const char *name, const uint32_t * spec, int nspec,
    DaeError * err)
{
  GString *key = g_string_new (name);
  for (int i = 0; i < nspec; i++)
    g_string_append_printf (key, "|%u", spec[i]);
  g_mutex_lock (&dev->pipe_lock);
  DaeVkPipeline *p = g_hash_table_lookup (dev->pipelines, key->str);
  if (!p) {
    const DaeShaderCode *code = find_shader (name);
    if (!code)
      dae_error_set (err, DAE_ERR_INVALID, "no shader named %s is built into libdiffae", name);
    else if (nspec > DAE_VK_MAX_SPEC)
      dae_error_set (err, DAE_ERR_INVALID, "shader %s: too many specialisation constants", name);
    else
      p = create_pipeline (dev, code, spec, nspec, err);
    if (p)
      g_hash_table_insert (dev->pipelines, g_strdup (key->str), p);
  }
  g_mutex_unlock (&dev->pipe_lock);
  g_string_free (key, TRUE);
  return p;
}
