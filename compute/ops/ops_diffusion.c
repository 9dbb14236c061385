/* The DDIM update: argument checks. */
#include "ops_common.h"

void
dae_ddim_update (DaeStream * s, const DaeTensor * out, const DaeTensor * x,
    const DaeTensor * eps_hat, const DaeDdimArgs * a)
{
  const char *name = "ddim_update";
  if (!a || !dae_op_ready (s, name, false, DAE_TENSORS (out, x, eps_hat)))
    return;
  if (!out || !x || !eps_hat || !dae_tensor_same_shape (out, x) ||
      !dae_tensor_same_shape (x, eps_hat))
    dae_op_fail (s, name, "out, x and eps_hat must have one shape");
  else
    DAE_OP_RUN (s, name, ddim_update, out, x, eps_hat, a);
}
