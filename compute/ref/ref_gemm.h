/* Plain-C reference of the gemm op family in double precision: naive loops that are easy to
 * check by eye, used by the tests as ground truth for both backends and for finite
 * differences. Same argument order as compute/ops/dae_ops.h; arrays are NCHW. */
#ifndef DAE_REF_GEMM_H
#define DAE_REF_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* y (n,out) = x (n,in) w^T + b; w (out,in), b (out) or NULL. accumulate: y += instead. */
void ref_linear_forward (double *y, const double *x, const double *w, const double *b,
    int n, int in, int out, bool accumulate);
/* dx (n,in) += dy w; dw (out,in) += dy^T x; db (out) += column sums of dy. Any of dx, dw, db
 * may be NULL. */
void ref_linear_backward (double *dx, double *dw, double *db, const double *dy,
    const double *x, const double *w, int n, int in, int out);

/* Shape of a convolution: x (n,cin,h,w), w (cout,cin,k,k), y (n,cout,h,w); padding k/2. */
typedef struct {
  int n, cin, cout, h, w, k;
} RefConvShape;

void ref_conv2d_forward (double *y, const double *x, const double *w, const double *b,
    const RefConvShape * sh, bool accumulate);
/* Adds the gradients of sum(dy * y) into dx, dw, db (each may be NULL). */
void ref_conv2d_backward (double *dx, double *dw, double *db, const double *dy,
    const double *x, const double *w, const RefConvShape * sh);

#endif
