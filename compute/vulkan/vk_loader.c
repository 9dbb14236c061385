#include "vk_loader.h"

#include <dlfcn.h>
#include <glib.h>

DaeVkFuncs vk;

static void *libvulkan;
static GMutex load_lock;

DaeStatus
dae_vk_load (DaeError * err)
{
  DaeStatus status = DAE_OK;
  g_mutex_lock (&load_lock);
  if (!libvulkan) {
    const char *path = g_getenv ("DIFFAE_VULKAN_LIBRARY");  /* tests point it at nothing */
    libvulkan = dlopen (path ? path : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!libvulkan) {
      status = dae_error_set (err, DAE_ERR_NO_DEVICE,
          "no Vulkan device found; install mesa-vulkan-drivers for a CPU device "
          "(the Vulkan loader libvulkan.so.1 could not be loaded: %s)", dlerror ());
    } else {
      vk.GetInstanceProcAddr =
          (PFN_vkGetInstanceProcAddr) dlsym (libvulkan, "vkGetInstanceProcAddr");
#define LOAD_GLOBAL(name) \
      vk.name = (PFN_vk##name) vk.GetInstanceProcAddr (VK_NULL_HANDLE, "vk" #name);
      if (vk.GetInstanceProcAddr) {
        DAE_VK_GLOBAL_FUNCS (LOAD_GLOBAL)
      }
#undef LOAD_GLOBAL
      if (!vk.GetInstanceProcAddr || !vk.CreateInstance) {
        dlclose (libvulkan);
        libvulkan = NULL;
        status = dae_error_set (err, DAE_ERR_NO_DEVICE,
            "no Vulkan device found; install mesa-vulkan-drivers for a CPU device "
            "(libvulkan.so.1 has no vkGetInstanceProcAddr)");
      }
    }
  }
  g_mutex_unlock (&load_lock);
  return status;
}

void
dae_vk_load_instance (VkInstance instance)
{
#define LOAD_INSTANCE(name) \
  vk.name = (PFN_vk##name) vk.GetInstanceProcAddr (instance, "vk" #name);
  DAE_VK_INSTANCE_FUNCS (LOAD_INSTANCE)
  DAE_VK_INSTANCE_EXT_FUNCS (LOAD_INSTANCE)
#undef LOAD_INSTANCE
}

void
dae_vk_load_device (VkDevice device)
{
#define LOAD_DEVICE(name) vk.name = (PFN_vk##name) vk.GetDeviceProcAddr (device, "vk" #name);
  DAE_VK_DEVICE_FUNCS (LOAD_DEVICE)
#undef LOAD_DEVICE
}

const char *
dae_vk_result_name (VkResult r)
{
  switch (r) {
#define CASE(x) case x: return #x;
    CASE (VK_SUCCESS) CASE (VK_NOT_READY) CASE (VK_TIMEOUT) CASE (VK_INCOMPLETE)
    CASE (VK_ERROR_OUT_OF_HOST_MEMORY) CASE (VK_ERROR_OUT_OF_DEVICE_MEMORY)
    CASE (VK_ERROR_INITIALIZATION_FAILED) CASE (VK_ERROR_DEVICE_LOST)
    CASE (VK_ERROR_MEMORY_MAP_FAILED) CASE (VK_ERROR_LAYER_NOT_PRESENT)
    CASE (VK_ERROR_EXTENSION_NOT_PRESENT) CASE (VK_ERROR_FEATURE_NOT_PRESENT)
    CASE (VK_ERROR_INCOMPATIBLE_DRIVER) CASE (VK_ERROR_TOO_MANY_OBJECTS)
    CASE (VK_ERROR_FORMAT_NOT_SUPPORTED) CASE (VK_ERROR_FRAGMENTED_POOL)
    CASE (VK_ERROR_OUT_OF_POOL_MEMORY) CASE (VK_ERROR_UNKNOWN)
#undef CASE
    default: return "VK_ERROR_(unknown)";
  }
}
