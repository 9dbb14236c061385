/* Multinomial logistic regression on the host (OpenBLAS), for the attribute classifiers and
 * the linear probes: L2-regularised mean cross-entropy, minimised by full-batch gradient
 * descent with Nesterov momentum (step 1/L from a power-iteration bound on the curvature,
 * restarted when the loss rises). Convex, so the result does not depend on a seed. */
#ifndef TRAINER_LOGREG_H
#define TRAINER_LOGREG_H

typedef struct {
  int k, d;
  float *w;                     /* k x d */
  float *b;                     /* k */
} TrLogReg;

/* x: n x d row-major features, y: n classes in 0..k-1. */
void tr_logreg_fit (TrLogReg * m, const float *x, int n, int d, const int *y, int k, double l2,
    int iterations);
void tr_logreg_clear (TrLogReg * m);
/* Predicted classes of n rows. */
void tr_logreg_predict (const TrLogReg * m, const float *x, int n, int *out);
/* Fraction of rows whose predicted class is y. */
double tr_logreg_accuracy (const TrLogReg * m, const float *x, int n, const int *y);

/* Per-feature mean and std of x (n x d; std 1 where a feature is constant), and x
 * standardised in place with them. */
void tr_standardise_fit (const float *x, int n, int d, float *mean, float *std);
void tr_standardise (float *x, int n, int d, const float *mean, const float *std);

#endif
