/* Plain-C reference of the basic op family in double precision: naive loops that are easy to
 * check by eye, used by the tests as ground truth for both backends and for finite
 * differences. Same argument order as compute/ops/dae_ops.h; arrays are NCHW.
 * Backward functions ADD into their gradients, like the ops. */
#ifndef DAE_REF_BASIC_H
#define DAE_REF_BASIC_H

#include <stdbool.h>
#include <stddef.h>

/* y = x * sigmoid(x) over count elements. */
void ref_silu_forward (double *y, const double *x, size_t count);
void ref_silu_backward (double *dx, const double *dy, const double *x, size_t count);

/* 2x2 average pooling; x is (n,c,h,w) with h, w even, y is (n,c,h/2,w/2). */
void ref_avgpool2_forward (double *y, const double *x, int n, int c, int h, int w);
void ref_avgpool2_backward (double *dx, const double *dy, int n, int c, int h, int w);

/* Nearest upsampling x2; x is (n,c,h,w), y is (n,c,2h,2w). */
void ref_upsample2_forward (double *y, const double *x, int n, int c, int h, int w);
void ref_upsample2_backward (double *dx, const double *dy, int n, int c, int h, int w);

/* Global average pool; x is (n,c,h,w), y is (n,c). */
void ref_global_avgpool_forward (double *y, const double *x, int n, int c, int h, int w);
void ref_global_avgpool_backward (double *dx, const double *dy, int n, int c, int h, int w);

/* Exact sinusoidal embedding (no float32 rounding anywhere): y (n, dim) with
 * y[i] = cos(t f_i), y[half + i] = sin(t f_i), f_i = exp(-ln(10000) i / half). */
void ref_timestep_embedding (double *y, const double *t, int n, int dim);

#endif
