/* Tests of the diffusion op family: the DDIM update on both backends against the
 * double-precision reference, with and without clipping, in place and not, on the
 * coefficients of real decoding and inversion steps of the 1000-step schedule. */
#include "test_util.h"
#include "ref/ref_diffusion.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>

/* abar_t of the linear schedule (DESIGN.md section 3), in double. */
static double
abar (int t)
{
  double a = 1.0;
  for (int i = 0; i <= t; i++)
    a *= 1.0 - (1e-4 + (0.02 - 1e-4) * i / 999.0);
  return a;
}

typedef struct {
  const char *what;
  double abar, abar_to;
} DdimCase;

static void
run_case (DaeBackend * be, DaeStream * s, const DdimCase * c, bool clip, bool in_place,
    double *worst)
{
  const int N = 2, C = 3, H = 13, W = 7;
  const size_t n = (size_t) N * C * H * W;
  DaeTestRng r;
  dae_test_rng_seed (&r, 31);
  float *x = malloc (n * sizeof *x), *eps = malloc (n * sizeof *eps);
  /* x_t of a noisy image: |x0| up to 1.3 so that clipping changes some elements. */
  double sa = sqrt (c->abar), s1a = sqrt (1 - c->abar);
  for (size_t i = 0; i < n; i++) {
    float x0 = dae_test_uniform (&r, -1.3f, 1.3f), e = dae_test_uniform (&r, -2, 2);
    x[i] = (float) (sa * x0 + s1a * e);
    eps[i] = e + dae_test_uniform (&r, -0.3f, 0.3f);      /* an imperfect eps_hat */
  }
  DaeDdimArgs a = {
    .sqrt_recip_abar = (float) sqrt (1.0 / c->abar),
    .sqrt_recipm1_abar = (float) sqrt (1.0 / c->abar - 1.0),
    .sqrt_abar_to = (float) sqrt (c->abar_to),
    .sqrt_1m_abar_to = (float) sqrt (1.0 - c->abar_to),
    .clip = clip,
  };
  /* The reference gets the same float coefficients: the op's inputs. */
  RefDdimArgs ra = {
    .sqrt_recip_abar = a.sqrt_recip_abar,.sqrt_recipm1_abar = a.sqrt_recipm1_abar,
    .sqrt_abar_to = a.sqrt_abar_to,.sqrt_1m_abar_to = a.sqrt_1m_abar_to,.clip = clip,
  };
  DaeTensor *tx = dae_test_tensor (be, s, N, C, H, W, x);
  DaeTensor *te = dae_test_tensor (be, s, N, C, H, W, eps);
  DaeTensor *tout = in_place ? tx : dae_test_tensor (be, s, N, C, H, W, NULL);
  dae_ddim_update (s, tout, tx, te, &a);
  float *got = dae_test_read (s, tout);
  double *xd = malloc (n * sizeof *xd), *ed = malloc (n * sizeof *ed);
  double *want = malloc (n * sizeof *want);
  for (size_t i = 0; i < n; i++) {
    xd[i] = x[i];
    ed[i] = eps[i];
  }
  ref_ddim_update (want, xd, ed, n, &ra);
  double e = dae_test_max_rel_error (got, want, n, 1e-30);
  *worst = fmax (*worst, e);
  CHECK (e < 1e-5, "ddim %s (clip %d, in place %d): error %g", c->what, clip, in_place, e);
  if (!in_place) {
    float *xback = dae_test_read (s, tx);
    bool same = true;
    for (size_t i = 0; i < n; i++)
      same = same && xback[i] == x[i];
    CHECK (same, "ddim %s changed x when out is another tensor", c->what);
    free (xback);
    dae_tensor_free (tout);
  }
  if (clip) {
    /* The clip must have been active for some elements. */
    int clipped = 0;
    for (size_t i = 0; i < n; i++)
      clipped += fabs (ra.sqrt_recip_abar * xd[i] - ra.sqrt_recipm1_abar * ed[i]) > 1.0;
    CHECK (clipped > 0, "ddim %s: no element exercised the clip", c->what);
  }
  free (got);
  free (xd);
  free (ed);
  free (want);
  free (x);
  free (eps);
  dae_tensor_free (tx);
  dae_tensor_free (te);
}

int
main (void)
{
  const DdimCase cases[] = {
    {"decode t=999 -> 989", abar (999), abar (989)},
    {"decode t=500 -> 480", abar (500), abar (480)},
    {"decode first kept step -> x0", abar (0), 1.0},
    {"invert t=0 -> 10", abar (0), abar (10)},
    {"invert last kept step -> x_T", abar (990), 0.0},
  };
  DaeBackend *bes[4];
  int nb = dae_test_open_backends (bes, 4);
  for (int b = 0; b < nb; b++) {
    DaeStream *s = NULL;
    DaeError err = { 0 };
    if (!CHECK_OK (dae_stream_new (bes[b], &s, &err), &err))
      continue;
    double worst = 0;
    for (size_t k = 0; k < G_N_ELEMENTS (cases); k++)
      for (int clip = 0; clip < 2; clip++)
        for (int in_place = 0; in_place < 2; in_place++)
          run_case (bes[b], s, &cases[k], clip, in_place, &worst);
    CHECK_OK (dae_stream_sync (s, &err), &err);
    fprintf (stderr, "  %s: ddim_update max rel error %.2e over 20 cases\n",
        dae_backend_kind_name (dae_backend_kind (bes[b])), worst);
    dae_stream_free (s);
    dae_backend_unref (bes[b]);
  }
  return dae_test_finish ("test_diffusion");
}
