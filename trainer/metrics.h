/* Reconstruction metrics. Images are float CHW in [-1, 1] and are compared on the [0, 1] scale
 * (x/2 + 1/2), without 8-bit rounding:
 *  - MSE: mean squared error over every pixel and channel;
 *  - PSNR: 10 log10(1 / MSE) dB;
 *  - SSIM (Wang et al. 2004, as their ssim.m): 11x11 Gaussian window, sigma 1.5, K1 0.01,
 *    K2 0.03, data range 1, statistics over the "valid" window positions only, averaged over
 *    positions and then channels. Images smaller than 11 pixels use the largest odd window
 *    that fits (same sigma). */
#ifndef TRAINER_METRICS_H
#define TRAINER_METRICS_H

double tr_mse (const float *a, const float *b, int channels, int size);
double tr_psnr (double mse);
double tr_ssim (const float *a, const float *b, int channels, int size);

#endif
