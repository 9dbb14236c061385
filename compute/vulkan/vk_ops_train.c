/* Vulkan: the train op family (see compute/ops/dae_ops.h). Not yet implemented. */
#include "vk_backend.h"

void
dae_vk_register_train (DaeOpsTable * t)
{
  (void) t;
}
