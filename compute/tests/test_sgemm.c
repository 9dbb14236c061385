/* The CPU backend's single-threaded matrix product (cpu/cpu_sgemm.c) against a double-precision
 * loop, for every kernel this CPU can run (AVX-512, AVX2, OpenBLAS): all four transpose
 * cases, shapes that are not multiples of the tiles or of the cache blocks (K past one slice,
 * M past one block, N past one panel), leading dimensions larger than the rows, alpha 0, K 0,
 * and beta 0 over a C full of NaN (which must be overwritten, never read). */
#include "cpu/cpu_backend.h"
#include "test_util.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>

typedef struct {
  int m, n, k;
  bool ta, tb;
  float alpha, beta;
} Case;

static double
op_elem (const float *x, int ld, bool trans, int row, int col)
{
  return trans ? x[(size_t) col * ld + row] : x[(size_t) row * ld + col];
}

/* Runs one case; C's padding columns (past n) must come back untouched. */
static void
check_case (const char *kernel, const Case * cs, DaeTestRng * rng)
{
  int lda = (cs->ta ? cs->m : cs->k) + 3, ldb = (cs->tb ? cs->k : cs->n) + 1;
  int ldc = cs->n + 2;
  size_t a_n = (size_t) (cs->ta ? cs->k : cs->m) * lda + 1;
  size_t b_n = (size_t) (cs->tb ? cs->n : cs->k) * ldb + 1;
  size_t c_n = (size_t) cs->m * ldc;
  float *a = malloc (a_n * sizeof *a), *b = malloc (b_n * sizeof *b);
  float *c = malloc (c_n * sizeof *c);
  double *want = malloc (c_n * sizeof *want);
  dae_test_fill_uniform (rng, a, a_n, -1.0f, 1.0f);
  dae_test_fill_uniform (rng, b, b_n, -1.0f, 1.0f);
  dae_test_fill_uniform (rng, c, c_n, -1.0f, 1.0f);
  for (size_t e = 0; e < c_n; e++) {
    int i = (int) (e / ldc), j = (int) (e % ldc);
    if (j >= cs->n) {
      want[e] = c[e];
      continue;
    }
    double sum = 0.0;
    for (int p = 0; p < cs->k; p++)
      sum += op_elem (a, lda, cs->ta, i, p) * op_elem (b, ldb, cs->tb, p, j);
    want[e] = cs->alpha * sum + (cs->beta == 0.0f ? 0.0 : cs->beta * (double) c[e]);
    if (cs->beta == 0.0f)
      c[e] = NAN;
  }
  dae_cpu_sgemm_one (cs->ta ? CblasTrans : CblasNoTrans, cs->tb ? CblasTrans : CblasNoTrans,
      cs->m, cs->n, cs->k, cs->alpha, a, lda, b, ldb, cs->beta, c, ldc);
  double err = dae_test_max_rel_error (c, want, c_n, 1.0);
  CHECK (err < 1e-5, "%s: m %d n %d k %d ta %d tb %d alpha %g beta %g: error %.3g", kernel,
      cs->m, cs->n, cs->k, cs->ta, cs->tb, cs->alpha, cs->beta, err);
  free (a);
  free (b);
  free (c);
  free (want);
}

static void
check_kernel (const char *wish)
{
  if (wish)
    g_setenv ("DIFFAE_SGEMM", wish, TRUE);
  else
    g_unsetenv ("DIFFAE_SGEMM");
  const char *kernel = dae_cpu_sgemm_choose ();
  printf ("DIFFAE_SGEMM=%s: %s\n", wish ? wish : "(unset)", kernel);
  if (wish && strcmp (wish, "openblas") == 0)
    CHECK (strcmp (kernel, "openblas") == 0, "asked for OpenBLAS, got %s", kernel);

  static const Case fixed[] = {
    {1, 1, 1, false, false, 1.0f, 0.0f},
    {4, 4, 1, false, true, 1.0f, 0.0f},         /* the smallest for the built-in kernels */
    {8, 32, 256, false, false, 1.0f, 0.0f},     /* one whole AVX-512 tile, one slice */
    {9, 33, 257, true, false, 0.5f, 1.0f},      /* one past each */
    {250, 40, 300, false, true, -1.0f, 0.25f},  /* M past one block (240) */
    {5, 3100, 20, true, true, 1.0f, 0.0f},      /* N past one panel (3072) */
    {7, 13, 0, false, false, 1.0f, 0.5f},       /* K 0: C = beta C */
    {7, 13, 9, false, false, 0.0f, 0.0f},       /* alpha 0, beta 0: zeros over NaN */
  };
  DaeTestRng rng;
  dae_test_rng_seed (&rng, 7);
  for (size_t i = 0; i < G_N_ELEMENTS (fixed); i++)
    check_case (kernel, &fixed[i], &rng);
  for (int i = 0; i < 60; i++) {
    Case cs = {
      .m = 1 + (int) dae_test_uniform (&rng, 0, 70), .n = 1 + (int) dae_test_uniform (&rng, 0, 90),
      .k = 1 + (int) dae_test_uniform (&rng, 0, 600), .ta = i & 1, .tb = (i >> 1) & 1,
      .alpha = i % 5 == 0 ? 2.0f : 1.0f, .beta = i % 3 == 0 ? 0.0f : 0.75f,
    };
    check_case (kernel, &cs, &rng);
  }
}

int
main (void)
{
  check_kernel (NULL);
  check_kernel ("avx2");
  check_kernel ("openblas");
  return dae_test_finish ("sgemm");
}
