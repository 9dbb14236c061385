/* Vulkan instance and device: choice of device, compute queue, validation messages. */
#include "vk_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_DEVICE_HINT "no Vulkan device found; install mesa-vulkan-drivers for a CPU device"
#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

static DaeOpsTable vk_ops;
static GOnce vk_ops_once = G_ONCE_INIT;

static gpointer
init_ops (gpointer data)
{
  (void) data;
  dae_vk_register_basic (&vk_ops);
  dae_vk_register_gemm (&vk_ops);
  dae_vk_register_norm (&vk_ops);
  dae_vk_register_attention (&vk_ops);
  dae_vk_register_train (&vk_ops);
  dae_vk_register_diffusion (&vk_ops);
  return NULL;
}

/* ---- fault injection ------------------------------------------------------------------- */

bool
dae_vk_fault (const char *what)
{
  static gint fired_lost, fired_oom;
  const char *f = g_getenv ("DIFFAE_FAULT");
  if (!f || strcmp (f, what) != 0)
    return false;
  if (strcmp (what, "device-lost") == 0)
    return g_atomic_int_compare_and_exchange (&fired_lost, 0, 1);
  if (strcmp (what, "oom") == 0)
    return g_atomic_int_compare_and_exchange (&fired_oom, 0, 1);
  return true;
}

void
dae_vk_device_lost (DaeStream * s, VkResult r, const char *during)
{
  DaeVkDevice *dev = dae_vk_dev (s->be);
  g_atomic_int_set (&dev->lost, 1);
  dae_stream_fail (s, DAE_ERR_DEVICE_LOST,
      "Vulkan device %s was lost during %s (%s); restart the pipeline to use it again",
      dev->props.deviceName, during, dae_vk_result_name (r));
}

/* ---- validation messages --------------------------------------------------------------- */

static VKAPI_ATTR VkBool32 VKAPI_CALL
on_validation_message (VkDebugUtilsMessageSeverityFlagBitsEXT severity,
    VkDebugUtilsMessageTypeFlagsEXT types, const VkDebugUtilsMessengerCallbackDataEXT * data,
    void *user)
{
  (void) types;
  DaeVkDevice *dev = user;
  if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
    return VK_FALSE;
  if (g_atomic_int_add (&dev->validation_messages, 1) == 0)
    g_strlcpy (dev->first_validation_message, data->pMessage,
        sizeof dev->first_validation_message);
  fprintf (stderr, "diffae: Vulkan validation: %s\n", data->pMessage);
  return VK_FALSE;
}

static bool
has_layer (const char *name)
{
  uint32_t n = 0;
  vk.EnumerateInstanceLayerProperties (&n, NULL);
  VkLayerProperties *layers = calloc (n ? n : 1, sizeof *layers);
  vk.EnumerateInstanceLayerProperties (&n, layers);
  bool found = false;
  for (uint32_t i = 0; i < n; i++)
    found |= strcmp (layers[i].layerName, name) == 0;
  free (layers);
  return found;
}

static DaeStatus
create_instance (DaeVkDevice * dev, bool validation, DaeError * err)
{
  uint32_t version = VK_API_VERSION_1_1;
  if (vk.EnumerateInstanceVersion)
    vk.EnumerateInstanceVersion (&version);
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "diffae",
    .pEngineName = "libdiffae",
    .apiVersion = version >= VK_API_VERSION_1_2 ? VK_API_VERSION_1_2 : VK_API_VERSION_1_1,
  };
  const char *layers[] = { VALIDATION_LAYER };
  const char *exts[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
  VkValidationFeatureEnableEXT enables[] = {
    VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,
  };
  VkValidationFeaturesEXT features = {
    .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
    .enabledValidationFeatureCount = 1,
    .pEnabledValidationFeatures = enables,
  };
  VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
  };
  if (validation) {
    if (!has_layer (VALIDATION_LAYER))
      return dae_error_set (err, DAE_ERR_NO_DEVICE,
          "Vulkan validation was requested but %s is not installed "
          "(Debian: vulkan-validationlayers)", VALIDATION_LAYER);
    info.pNext = &features;
    info.enabledLayerCount = 1;
    info.ppEnabledLayerNames = layers;
    info.enabledExtensionCount = 1;
    info.ppEnabledExtensionNames = exts;
  }
  VkResult r = vk.CreateInstance (&info, NULL, &dev->instance);
  if (r != VK_SUCCESS)
    return dae_error_set (err, DAE_ERR_NO_DEVICE, NO_DEVICE_HINT " (vkCreateInstance: %s)",
        dae_vk_result_name (r));
  dae_vk_load_instance (dev->instance);
  if (validation && vk.CreateDebugUtilsMessengerEXT) {
    VkDebugUtilsMessengerCreateInfoEXT m = {
      .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
      .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
          VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
      .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
          VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
          VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
      .pfnUserCallback = on_validation_message,
      .pUserData = dev,
    };
    vk.CreateDebugUtilsMessengerEXT (dev->instance, &m, NULL, &dev->messenger);
  }
  return DAE_OK;
}

/* ---- device choice --------------------------------------------------------------------- */

static int
type_rank (VkPhysicalDeviceType type)
{
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

static const char *
type_name (VkPhysicalDeviceType type)
{
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete gpu";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual gpu";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

static void
list_devices (VkPhysicalDevice * devs, uint32_t n, char *buf, size_t len)
{
  buf[0] = '\0';
  for (uint32_t i = 0; i < n; i++) {
    VkPhysicalDeviceProperties p;
    vk.GetPhysicalDeviceProperties (devs[i], &p);
    char item[320];
    g_snprintf (item, sizeof item, "%s%u: %s", i ? ", " : "", i, p.deviceName);
    g_strlcat (buf, item, len);
  }
}

/* DIFFAE_DEVICE (or opts->device) is an index or a case-insensitive name substring. */
static int
pick_requested (VkPhysicalDevice * devs, uint32_t n, const char *want)
{
  char *end = NULL;
  long idx = strtol (want, &end, 10);
  if (end != want && *end == '\0')
    return (idx >= 0 && (uint32_t) idx < n) ? (int) idx : -1;
  char *want_lc = g_ascii_strdown (want, -1);
  int found = -1;
  for (uint32_t i = 0; i < n && found < 0; i++) {
    VkPhysicalDeviceProperties p;
    vk.GetPhysicalDeviceProperties (devs[i], &p);
    char *name_lc = g_ascii_strdown (p.deviceName, -1);
    if (strstr (name_lc, want_lc))
      found = (int) i;
    g_free (name_lc);
  }
  g_free (want_lc);
  return found;
}

/* Both formats are mandatory for uniform texel buffers in Vulkan 1.x; checked all the same,
 * since the texel-buffer shader variants are an optimisation the backend can do without. */
static gboolean
texel_formats_supported (VkPhysicalDevice physical)
{
  const VkFormat formats[] = { VK_FORMAT_R32_SFLOAT, VK_FORMAT_R32G32B32A32_SFLOAT };
  for (size_t i = 0; i < G_N_ELEMENTS (formats); i++) {
    VkFormatProperties fp;
    vk.GetPhysicalDeviceFormatProperties (physical, formats[i], &fp);
    if (!(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT))
      return FALSE;
  }
  return TRUE;
}

static int
pick_best (VkPhysicalDevice * devs, uint32_t n)
{
  int best = -1, best_rank = -1;
  for (uint32_t i = 0; i < n; i++) {
    VkPhysicalDeviceProperties p;
    vk.GetPhysicalDeviceProperties (devs[i], &p);
    if (p.apiVersion < VK_API_VERSION_1_1)
      continue;
    int rank = type_rank (p.deviceType);
    if (rank > best_rank) {
      best = (int) i;
      best_rank = rank;
    }
  }
  return best;
}

static DaeStatus
choose_physical (DaeVkDevice * dev, const char *want, DaeError * err)
{
  uint32_t n = 0;
  VkResult r = vk.EnumeratePhysicalDevices (dev->instance, &n, NULL);
  if (r != VK_SUCCESS || n == 0)
    return dae_error_set (err, DAE_ERR_NO_DEVICE, NO_DEVICE_HINT);
  VkPhysicalDevice *devs = calloc (n, sizeof *devs);
  vk.EnumeratePhysicalDevices (dev->instance, &n, devs);
  int pick = (want && *want) ? pick_requested (devs, n, want) : pick_best (devs, n);
  DaeStatus status = DAE_OK;
  if (pick < 0) {
    char names[1024];
    list_devices (devs, n, names, sizeof names);
    if (want && *want)
      status = dae_error_set (err, DAE_ERR_NO_DEVICE,
          "no Vulkan device matches \"%s\" (DIFFAE_DEVICE takes an index or a name "
          "substring; devices: %s)", want, names);
    else
      status = dae_error_set (err, DAE_ERR_NO_DEVICE,
          NO_DEVICE_HINT " (none supports Vulkan 1.1; devices: %s)", names);
  } else {
    dev->physical = devs[pick];
    vk.GetPhysicalDeviceProperties (dev->physical, &dev->props);
    vk.GetPhysicalDeviceMemoryProperties (dev->physical, &dev->mem_props);
    dev->texel_views = texel_formats_supported (dev->physical);
  }
  free (devs);
  return status;
}

static DaeStatus
create_device (DaeVkDevice * dev, DaeError * err)
{
  uint32_t nq = 0;
  vk.GetPhysicalDeviceQueueFamilyProperties (dev->physical, &nq, NULL);
  VkQueueFamilyProperties *qf = calloc (nq ? nq : 1, sizeof *qf);
  vk.GetPhysicalDeviceQueueFamilyProperties (dev->physical, &nq, qf);
  /* Prefer a compute-only family (async compute on GPUs), else any with compute. */
  int family = -1;
  bool injected = dae_vk_fault ("no-compute-queue");
  for (uint32_t i = 0; i < nq && !injected; i++) {
    if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
      continue;
    if (family < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
      family = (int) i;
  }
  if (family < 0) {
    free (qf);
    return dae_error_set (err, DAE_ERR_DEVICE,
        "Vulkan device %s has no compute queue; diffae needs one (try another device with "
        "DIFFAE_DEVICE, or DIFFAE_BACKEND=cpu)", dev->props.deviceName);
  }
  dev->queue_family = (uint32_t) family;
  dev->timestamps = qf[family].timestampValidBits > 0;
  dev->timestamp_ns = dev->props.limits.timestampPeriod;
  free (qf);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo qinfo = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = dev->queue_family,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  VkDeviceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &qinfo,
  };
  VkResult r = vk.CreateDevice (dev->physical, &info, NULL, &dev->device);
  if (r != VK_SUCCESS)
    return dae_error_set (err, DAE_ERR_DEVICE, "vkCreateDevice on %s failed: %s",
        dev->props.deviceName, dae_vk_result_name (r));
  dae_vk_load_device (dev->device);
  vk.GetDeviceQueue (dev->device, dev->queue_family, 0, &dev->queue);
  return DAE_OK;
}

/* ---- backend lifetime ------------------------------------------------------------------ */

static void
vk_backend_destroy (DaeBackend * be)
{
  DaeVkDevice *dev = dae_vk_dev (be);
  if (dev->device) {
    vk.DeviceWaitIdle (dev->device);
    dae_vk_pipeline_cache_save (dev);
    dae_vk_pipelines_cleanup (dev);
    dae_vk_memory_cleanup (dev);
    vk.DestroyDevice (dev->device, NULL);
  }
  if (dev->messenger)
    vk.DestroyDebugUtilsMessengerEXT (dev->instance, dev->messenger, NULL);
  if (dev->instance)
    vk.DestroyInstance (dev->instance, NULL);
  g_mutex_clear (&dev->queue_lock);
  g_mutex_clear (&dev->mem_lock);
  g_mutex_clear (&dev->pipe_lock);
  free (be);
}

static void
vk_backend_stats (DaeBackend * be, DaeBackendStats * out)
{
  DaeVkDevice *dev = dae_vk_dev (be);
  g_mutex_lock (&dev->pipe_lock);
  out->pipelines_created = dev->pipelines_created;
  out->pipeline_seconds = dev->pipeline_create_seconds;
  g_mutex_unlock (&dev->pipe_lock);
  out->cache_loaded_bytes = dev->cache_loaded_bytes;
  out->cache_path = dev->cache_path;
}

static const DaeBackendClass vk_class = {
  .name = "vulkan",
  .destroy = vk_backend_destroy,
  .storage_new = dae_vk_storage_new,
  .storage_free = dae_vk_storage_free,
  .stream_new = dae_vk_stream_new,
  .stream_free = dae_vk_stream_free,
  .stream_sync = dae_vk_stream_sync,
  .tensor_write = dae_vk_tensor_write,
  .tensor_read = dae_vk_tensor_read,
  .stats = vk_backend_stats,
  .ops = &vk_ops,
};

DaeStatus
dae_vk_backend_open (const DaeBackendOptions * opts, DaeBackend ** out, DaeError * err)
{
  *out = NULL;
  if (dae_vk_load (err) != DAE_OK)
    return err ? err->code : DAE_ERR_NO_DEVICE;
  g_once (&vk_ops_once, init_ops, NULL);
  DaeVkBackend *vb = calloc (1, sizeof *vb);
  DaeVkDevice *dev = &vb->dev;
  vb->base.klass = &vk_class;
  vb->base.refcount = 1;
  vb->base.kind = DAE_BACKEND_VULKAN;
  g_mutex_init (&dev->queue_lock);
  g_mutex_init (&dev->mem_lock);
  g_mutex_init (&dev->pipe_lock);
  const char *want = opts->device ? opts->device : g_getenv ("DIFFAE_DEVICE");
  DaeStatus status = create_instance (dev, opts->validation, err);
  if (status == DAE_OK)
    status = choose_physical (dev, want, err);
  if (status == DAE_OK)
    status = create_device (dev, err);
  if (status == DAE_OK)
    status = dae_vk_memory_init (dev, err);
  if (status == DAE_OK)
    status = dae_vk_pipelines_init (dev, err);
  if (status != DAE_OK) {
    vk_backend_destroy (&vb->base);
    return status;
  }
  VkPhysicalDeviceType type = dev->props.deviceType;
  vb->base.is_gpu = type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
      type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
      type == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU;
  g_snprintf (vb->base.description, sizeof vb->base.description, "vulkan: %s [%s]",
      dev->props.deviceName, type_name (type));
  *out = &vb->base;
  return DAE_OK;
}
