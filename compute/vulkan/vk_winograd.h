/* The Vulkan backend's Winograd F(m x m, 3x3) convolutions (vk_winograd.c). */
#ifndef DAE_VK_WINOGRAD_H
#define DAE_VK_WINOGRAD_H

#include "vk_backend.h"

/* The tile size m (2 or 4) with which s should run the convolution of x by w by Winograd, or
 * 0 for the direct convolution: 3x3 kernels with Cin % 4 == 0 that fit the device, where it
 * pays (for the wide layers with few tiles, only once w was seen unwritten since the last
 * call, so that its cached transform is reused: this call notes w); $DIFFAE_VK_WINOGRAD=0
 * never, =2 or =4 that tile size wherever it can run (tests). */
int dae_vk_winograd_tile (DaeStream * s, const DaeTensor * x, const DaeTensor * w);
/* y (+)= conv3x3(x, w) + b (b may be NULL) with tiles of m x m outputs; w's transform is
 * kept in s's cache ($DIFFAE_VK_WINOGRAD_CACHE_MB) and reused while w is not written. */
void dae_vk_winograd_forward (DaeStream * s, int m, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, bool accumulate);

#endif
