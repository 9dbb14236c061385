/* Vulkan entry points, loaded at run time with dlopen("libvulkan.so.1").
 *
 * libdiffae does not link against the Vulkan loader, so that a machine without one still runs
 * the CPU backend and gets a clear message instead of a failure to start. Call the functions
 * through the vk table: vk.CreateInstance(...). */
#ifndef DAE_VK_LOADER_H
#define DAE_VK_LOADER_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "core/dae_error.h"

#define DAE_VK_GLOBAL_FUNCS(X) \
  X(CreateInstance) X(EnumerateInstanceLayerProperties) X(EnumerateInstanceExtensionProperties) \
  X(EnumerateInstanceVersion)

#define DAE_VK_INSTANCE_FUNCS(X) \
  X(DestroyInstance) X(EnumeratePhysicalDevices) X(GetPhysicalDeviceProperties) \
  X(GetPhysicalDeviceQueueFamilyProperties) X(GetPhysicalDeviceMemoryProperties) \
  X(GetPhysicalDeviceFeatures) X(GetPhysicalDeviceFormatProperties) X(CreateDevice) \
  X(GetDeviceProcAddr) \
  X(EnumerateDeviceExtensionProperties)

#define DAE_VK_INSTANCE_EXT_FUNCS(X) \
  X(CreateDebugUtilsMessengerEXT) X(DestroyDebugUtilsMessengerEXT)

#define DAE_VK_DEVICE_FUNCS(X) \
  X(DestroyDevice) X(GetDeviceQueue) X(DeviceWaitIdle) X(QueueSubmit) X(QueueWaitIdle) \
  X(CreateBuffer) X(DestroyBuffer) X(GetBufferMemoryRequirements) X(AllocateMemory) \
  X(FreeMemory) X(BindBufferMemory) X(MapMemory) X(UnmapMemory) X(CreateShaderModule) \
  X(DestroyShaderModule) X(CreatePipelineCache) X(DestroyPipelineCache) \
  X(GetPipelineCacheData) X(CreateComputePipelines) X(DestroyPipeline) \
  X(CreatePipelineLayout) X(DestroyPipelineLayout) X(CreateDescriptorSetLayout) \
  X(DestroyDescriptorSetLayout) X(CreateDescriptorPool) X(DestroyDescriptorPool) \
  X(ResetDescriptorPool) X(AllocateDescriptorSets) X(UpdateDescriptorSets) \
  X(CreateBufferView) X(DestroyBufferView) \
  X(CreateCommandPool) X(DestroyCommandPool) X(ResetCommandPool) X(AllocateCommandBuffers) \
  X(BeginCommandBuffer) X(EndCommandBuffer) X(CmdBindPipeline) X(CmdBindDescriptorSets) \
  X(CmdPushConstants) X(CmdDispatch) X(CmdPipelineBarrier) X(CmdCopyBuffer) \
  X(CmdUpdateBuffer) X(CmdFillBuffer) X(CmdWriteTimestamp) X(CmdResetQueryPool) \
  X(CreateQueryPool) X(DestroyQueryPool) X(GetQueryPoolResults) X(CreateFence) \
  X(DestroyFence) X(WaitForFences) X(ResetFences)

#define DAE_VK_DECLARE(name) PFN_vk##name name;
typedef struct {
  PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
  DAE_VK_GLOBAL_FUNCS (DAE_VK_DECLARE)
  DAE_VK_INSTANCE_FUNCS (DAE_VK_DECLARE)
  DAE_VK_INSTANCE_EXT_FUNCS (DAE_VK_DECLARE)
  DAE_VK_DEVICE_FUNCS (DAE_VK_DECLARE)
} DaeVkFuncs;
#undef DAE_VK_DECLARE

/* One table per process. Instance and device functions are loaded for the first instance
 * and device created; diffae creates at most one of each per backend and all backends use
 * the same loader, so the pointers (loader trampolines) stay valid. */
extern DaeVkFuncs vk;

/* Loads libvulkan.so.1 and the global functions (once; thread-safe). */
DaeStatus dae_vk_load (DaeError * err);
void dae_vk_load_instance (VkInstance instance);
void dae_vk_load_device (VkDevice device);

/* "VK_ERROR_OUT_OF_DEVICE_MEMORY" etc. */
const char *dae_vk_result_name (VkResult r);

#endif
