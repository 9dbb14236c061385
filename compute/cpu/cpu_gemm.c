/* CPU: the gemm op family (see compute/ops/dae_ops.h). Not yet implemented. */
#include "cpu_backend.h"

void
dae_cpu_register_gemm (DaeOpsTable * t)
{
  (void) t;
}
