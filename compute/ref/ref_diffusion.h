/* Plain-C reference of the diffusion op family in double precision: naive loops that are easy to
 * check by eye, used by the tests as ground truth for both backends and for finite
 * differences. Same argument order as compute/ops/dae_ops.h; arrays are NCHW. */
#ifndef DAE_REF_DIFFUSION_H
#define DAE_REF_DIFFUSION_H

#include <stdbool.h>
#include <stddef.h>

#endif
