/* bench/ops: GFLOP/s of the gemm op family and attention at the ffhq64 UNet's shapes, on one
 * backend.
 *
 *   ops [--backend cpu|vulkan] [--reps N] [--budget SECONDS] [--filter SUBSTRING]
 *
 * Prints one line per case, "case<TAB>gflops<TAB>milliseconds", the median over N timed
 * repetitions after a warm-up. On Vulkan each repetition records `inner` ops into one
 * command buffer and synchronises once, so the ~100 us of a submission is spread out;
 * slow cases (lavapipe at the largest shapes) get fewer repetitions, within --budget
 * seconds per case. bench/ops.sh runs this and bench/ops_torch.py alternately and prints
 * the table of doc/performance.md. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dae_backend.h"
#include "ops/dae_ops.h"

typedef enum {
  CONV3_FWD, CONV3_BWD, CONV1_FWD, LINEAR_FWD, ATTN_FWD, ATTN_BWD,
} Kind;

typedef struct {
  Kind kind;
  int n, cin, cout, hw;         /* hw: image side (conv) */
  const char *label;
} Case;

static const Case cases[] = {
  {CONV3_FWD, 1, 64, 64, 64, "conv3x3 fwd"},
  {CONV3_FWD, 8, 64, 64, 64, "conv3x3 fwd"},
  {CONV3_FWD, 1, 128, 128, 32, "conv3x3 fwd"},
  {CONV3_FWD, 8, 128, 128, 32, "conv3x3 fwd"},
  {CONV3_FWD, 1, 256, 256, 16, "conv3x3 fwd"},
  {CONV3_FWD, 8, 256, 256, 16, "conv3x3 fwd"},
  {CONV3_FWD, 1, 512, 512, 8, "conv3x3 fwd"},
  {CONV3_FWD, 8, 512, 512, 8, "conv3x3 fwd"},
  {CONV3_BWD, 1, 64, 64, 64, "conv3x3 bwd"},
  {CONV3_BWD, 8, 64, 64, 64, "conv3x3 bwd"},
  {CONV3_BWD, 1, 128, 128, 32, "conv3x3 bwd"},
  {CONV3_BWD, 8, 128, 128, 32, "conv3x3 bwd"},
  {CONV3_BWD, 1, 256, 256, 16, "conv3x3 bwd"},
  {CONV3_BWD, 8, 256, 256, 16, "conv3x3 bwd"},
  {CONV3_BWD, 1, 512, 512, 8, "conv3x3 bwd"},
  {CONV3_BWD, 8, 512, 512, 8, "conv3x3 bwd"},
  /* the shipped 32x32 models' widest and narrowest levels at their training batch (32) */
  {CONV3_FWD, 32, 32, 32, 32, "conv3x3 fwd"},
  {CONV3_FWD, 32, 64, 64, 8, "conv3x3 fwd"},
  {CONV3_BWD, 32, 32, 32, 32, "conv3x3 bwd"},
  {CONV3_BWD, 32, 64, 64, 8, "conv3x3 bwd"},
  /* attention's qkv (C -> 3C) and proj_out (C -> C) 1x1 convolutions at 16x16 and 8x8 */
  {CONV1_FWD, 1, 256, 768, 16, "qkv 1x1"},
  {CONV1_FWD, 8, 256, 768, 16, "qkv 1x1"},
  {CONV1_FWD, 8, 256, 256, 16, "proj 1x1"},
  {CONV1_FWD, 8, 512, 1536, 8, "qkv 1x1"},
  {LINEAR_FWD, 1, 512, 512, 1, "linear"},
  {LINEAR_FWD, 8, 512, 512, 1, "linear"},
  {LINEAR_FWD, 64, 512, 512, 1, "linear"},
  /* single-head attention over the H*W tokens (cin = cout = C; qkv in, softmax in fp32) */
  {ATTN_FWD, 1, 256, 256, 16, "attention fwd"},
  {ATTN_FWD, 8, 256, 256, 16, "attention fwd"},
  {ATTN_FWD, 8, 512, 512, 8, "attention fwd"},
  {ATTN_BWD, 1, 256, 256, 16, "attention bwd"},
  {ATTN_BWD, 8, 256, 256, 16, "attention bwd"},
  {ATTN_BWD, 8, 512, 512, 8, "attention bwd"},
};

static void
case_name (const Case * c, char *buf, size_t len)
{
  if (c->kind == LINEAR_FWD)
    g_snprintf (buf, len, "%s %d->%d n%d", c->label, c->cin, c->cout, c->n);
  else
    g_snprintf (buf, len, "%s %dx%dx%d->%d n%d", c->label, c->hw, c->hw, c->cin, c->cout,
        c->n);
}

static double
case_flops (const Case * c)
{
  if (c->kind == ATTN_FWD || c->kind == ATTN_BWD) {
    /* forward: q^T k and P v, 2 T^2 C each; backward: dP, dv, dq and dk */
    double t = (double) c->hw * c->hw;
    return (c->kind == ATTN_FWD ? 4.0 : 8.0) * c->n * t * t * c->cin;
  }
  int taps = c->kind == CONV3_FWD || c->kind == CONV3_BWD ? 9 : 1;
  double hw = c->kind == LINEAR_FWD ? 1 : (double) c->hw * c->hw;
  double f = 2.0 * c->n * c->cin * c->cout * taps * hw;
  return c->kind == CONV3_BWD ? 2 * f : f;   /* input and weight gradients */
}

typedef struct {
  DaeTensor *x, *w, *b, *y, *dx, *dw;
} Tensors;

static DaeTensor *
random_tensor (DaeBackend * be, DaeStream * s, int n, int c, int h, int w)
{
  DaeError err = { 0 };
  DaeTensor *t = dae_tensor_new (be, n, c, h, w, &err);
  if (!t) {
    fprintf (stderr, "ops: %s\n", err.message);
    exit (1);
  }
  size_t count = dae_tensor_numel (t);
  float *data = malloc (count * sizeof *data);
  guint32 state = 12345;
  for (size_t i = 0; i < count; i++) {
    state = state * 1664525u + 1013904223u;
    data[i] = (float) (state >> 8) / 16777216.0f - 0.5f;
  }
  dae_tensor_write (s, t, data);
  free (data);
  return t;
}

static Tensors
make_tensors (DaeBackend * be, DaeStream * s, const Case * c)
{
  Tensors t = { 0 };
  if (c->kind == ATTN_FWD || c->kind == ATTN_BWD) {
    /* x: qkv; w: the probabilities; y: the output (dy in the backward); dx: dqkv */
    int tokens = c->hw * c->hw;
    t.x = random_tensor (be, s, c->n, 3 * c->cin, c->hw, c->hw);
    t.w = random_tensor (be, s, c->n, 1, tokens, tokens);
    t.y = random_tensor (be, s, c->n, c->cin, c->hw, c->hw);
    if (c->kind == ATTN_BWD) {
      t.dx = random_tensor (be, s, c->n, 3 * c->cin, c->hw, c->hw);
      dae_attention_forward (s, t.y, t.w, t.x);  /* probabilities a softmax could give */
    }
    return t;
  }
  int side = c->kind == LINEAR_FWD ? 1 : c->hw;
  int k = c->kind == CONV3_FWD || c->kind == CONV3_BWD ? 3 : 1;
  t.x = random_tensor (be, s, c->n, c->cin, side, side);
  t.w = random_tensor (be, s, c->cout, c->cin, k, k);
  t.b = random_tensor (be, s, 1, c->cout, 1, 1);
  t.y = random_tensor (be, s, c->n, c->cout, side, side);
  if (c->kind == CONV3_BWD) {
    t.dx = random_tensor (be, s, c->n, c->cin, side, side);
    t.dw = random_tensor (be, s, c->cout, c->cin, k, k);
  }
  return t;
}

static void
free_tensors (Tensors * t)
{
  DaeTensor *all[] = { t->x, t->w, t->b, t->y, t->dx, t->dw };
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    dae_tensor_free (all[i]);
}

static void
run_once (DaeStream * s, const Case * c, const Tensors * t)
{
  DaeConvArgs a = {.ksize = c->kind == CONV3_FWD || c->kind == CONV3_BWD ? 3 : 1 };
  switch (c->kind) {
    case CONV3_FWD:
    case CONV1_FWD:
      dae_conv2d_forward (s, t->y, t->x, t->w, t->b, &a);
      break;
    case CONV3_BWD:
      dae_conv2d_backward (s, t->dx, t->dw, NULL, t->y, t->x, t->w, &a);
      break;
    case LINEAR_FWD:
      dae_linear_forward (s, t->y, t->x, t->w, t->b, false);
      break;
    case ATTN_FWD:
      dae_attention_forward (s, t->y, t->w, t->x);
      break;
    case ATTN_BWD:
      dae_attention_backward (s, t->dx, t->y, t->x, t->w);
      break;
  }
}

/* Seconds for `inner` ops recorded back to back and one synchronisation. */
static double
timed (DaeStream * s, const Case * c, const Tensors * t, int inner)
{
  DaeError err = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < inner; i++)
    run_once (s, c, t);
  if (dae_stream_sync (s, &err) != DAE_OK) {
    fprintf (stderr, "ops: %s\n", err.message);
    exit (1);
  }
  return (g_get_monotonic_time () - t0) / 1e6;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  const char *backend = "cpu", *filter = NULL;
  int reps = 5;
  double budget = 3.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp (argv[i], "--backend") == 0)
      backend = argv[i + 1];
    else if (strcmp (argv[i], "--reps") == 0)
      reps = atoi (argv[i + 1]);
    else if (strcmp (argv[i], "--budget") == 0)
      budget = atof (argv[i + 1]);
    else if (strcmp (argv[i], "--filter") == 0)
      filter = argv[i + 1];
  }
  DaeBackendOptions opts = { 0 };
  if (!dae_backend_kind_parse (backend, &opts.kind)) {
    fprintf (stderr, "usage: ops [--backend cpu|vulkan] [--reps N] [--budget S] "
        "[--filter TEXT]\n");
    return 2;
  }
  DaeError err = { 0 };
  DaeBackend *be;
  DaeStream *s;
  if (dae_backend_open (&opts, &be, &err) != DAE_OK ||
      dae_stream_new (be, &s, &err) != DAE_OK) {
    fprintf (stderr, "ops: %s\n", err.message);
    return 1;
  }
  printf ("# backend\t%s\n", dae_backend_description (be));
  bool vulkan = dae_backend_kind (be) == DAE_BACKEND_VULKAN;
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    const Case *c = &cases[i];
    char name[96];
    case_name (c, name, sizeof name);
    if (filter && !strstr (name, filter))
      continue;
    Tensors t = make_tensors (be, s, c);
    double first = timed (s, c, &t, 1);  /* warm-up: pipelines, scratch, caches */
    first = timed (s, c, &t, 1);
    /* Enough ops per timing for ~50 ms on Vulkan (submission overhead), one on the CPU. */
    int inner = vulkan ? CLAMP ((int) (0.05 / first), 1, 20) : 1;
    int n = CLAMP ((int) (budget / (first * inner)), 1, reps);
    double *sec = malloc (n * sizeof *sec);
    for (int r = 0; r < n; r++)
      sec[r] = timed (s, c, &t, inner) / inner;
    qsort (sec, n, sizeof *sec, compare_doubles);
    double med = n % 2 ? sec[n / 2] : 0.5 * (sec[n / 2 - 1] + sec[n / 2]);
    printf ("%s\t%.2f\t%.3f\n", name, case_flops (c) / med * 1e-9, med * 1e3);
    fflush (stdout);
    free (sec);
    free_tensors (&t);
  }
  dae_stream_free (s);
  dae_backend_unref (be);
  if (dae_profile_enabled ())         /* DIFFAE_PROFILE=1: where the time goes, per op */
    dae_profile_report (stderr);
  return 0;
}
