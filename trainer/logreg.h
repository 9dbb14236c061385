/* Multinomial logistic regression on the host (the CPU backend's matrix products), for the
 * attribute classifiers and the linear probes: L2-regularised mean cross-entropy, minimised
 * by full-batch gradient descent with Nesterov momentum (step 1/L from a power-iteration
 * bound on the curvature, restarted when the loss rises). Convex, so the result does not
 * depend on a seed. */
#ifndef TRAINER_LOGREG_H
#define TRAINER_LOGREG_H

#include <stdbool.h>

typedef struct {
  int k, d;
  float *w;                     /* k x d */
  float *b;                     /* k */
} TrLogReg;

/* x: n x d row-major features, y: n classes in 0..k-1. */
void tr_logreg_fit (TrLogReg * m, const float *x, int n, int d, const int *y, int k, double l2,
    int iterations);
void tr_logreg_clear (TrLogReg * m);

/* The same optimisation one piece at a time: early stopping is one of the regularisers the
 * probes choose, so the model is read after several iteration counts of one run. x and y
 * must outlive the fit. */
typedef struct TrLogRegFit TrLogRegFit;
TrLogRegFit *tr_logreg_fit_new (const float *x, int n, int d, const int *y, int k, double l2);
void tr_logreg_fit_iterate (TrLogRegFit * f, int iterations);
const TrLogReg *tr_logreg_fit_model (const TrLogRegFit * f);
/* Frees the state; the model moves to out, or is freed when out is NULL. */
void tr_logreg_fit_free (TrLogRegFit * f, TrLogReg * out);

typedef struct {
  double l2;
  int iterations;
  double validation_accuracy;
} TrLogRegChoice;

/* Model selection on the training rows alone: fits on four fifths (rows i % 5 != 4) and
 * returns the L2 (one of l2s) and iteration count with the best accuracy on the other fifth.
 * Iteration counts tried: max_iterations/32, /16, /8, /4, /2 and max_iterations, or
 * max_iterations alone when fixed_iterations. Ties go to the earlier L2, then to fewer
 * iterations. Refit on all rows with the choice before measuring on held-out data. */
TrLogRegChoice tr_logreg_select (const float *x, int n, int d, const int *y, int k,
    const double *l2s, int n_l2, int max_iterations, bool fixed_iterations);
/* Predicted classes of n rows. */
void tr_logreg_predict (const TrLogReg * m, const float *x, int n, int *out);
/* Fraction of rows whose predicted class is y. */
double tr_logreg_accuracy (const TrLogReg * m, const float *x, int n, const int *y);

/* McNemar's exact test of two classifiers on the same rows: b rows only the first gets
 * right, c rows only the second; the two-sided binomial p-value of b against b + c draws of
 * probability 1/2 (1 when b == c). */
double tr_mcnemar_p (int b, int c);

/* Per-feature mean and std of x (n x d; std 1 where a feature is constant), and x
 * standardised in place with them. */
void tr_standardise_fit (const float *x, int n, int d, float *mean, float *std);
void tr_standardise (float *x, int n, int d, const float *mean, const float *std);

#endif
