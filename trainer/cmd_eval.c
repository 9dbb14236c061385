/* diffae-train eval: reconstruction quality on held-out images (inverted x_T, and random x_T
 * with z_sem only) at several DDIM step counts, linear probes of z_sem against raw pixels,
 * unconditional samples with their nearest training images, a JSON report and PNG grids. */
#include "commands.h"
#include "image_io.h"
#include "labels.h"
#include "logreg.h"
#include "metrics.h"
#include "model_util.h"
#include "nearest.h"
#include "setup.h"
#include "util.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"

#define MAX_STEP_COUNTS 16
#define GRID_COLS 8

typedef struct {
  double mse, psnr, ssim;
} Quality;

typedef struct {
  TrArgs *a;
  DaeBackend *be;
  DaeModel *m;
  DaeSession *s;
  DaeModelInfo info;
  TrData data;
  int steps[MAX_STEP_COUNTS], n_steps, batch, n_images;
  size_t per;                   /* floats per image */
  float *images;                /* the evaluated held-out images */
  float *noise;                 /* random x_T of each evaluated image */
  float *recon, *random;        /* outputs at the largest step count, for the grid */
  GString *json;
} Eval;

static DaeStatus
parse_steps (Eval * e, DaeError * err)
{
  char **parts = g_strsplit (e->a->steps_list ? e->a->steps_list : "10,20,50,100", ",", -1);
  DaeStatus st = DAE_OK;
  e->n_steps = 0;
  for (int i = 0; parts[i] && st == DAE_OK; i++) {
    char *end;
    long v = strtol (parts[i], &end, 10);
    if (*end || v < 1 || v > 1000 || e->n_steps == MAX_STEP_COUNTS)
      st = dae_error_set (err, DAE_ERR_INVALID,
          "--steps-list: \"%s\" is not a step count in 1..1000 (at most %d counts)", parts[i],
          MAX_STEP_COUNTS);
    else
      e->steps[e->n_steps++] = (int) v;
  }
  g_strfreev (parts);
  return st;
}

/* Inverts and decodes images [first, first + batch) (padded) with n steps, and decodes their
 * z_sem from random x_T; adds the quality of each real image to inv and rnd. */
static DaeStatus
recon_batch (Eval * e, int first, int n, Quality * inv, Quality * rnd, DaeError * err)
{
  int b = e->batch, count = MIN (b, e->n_images - first), c = e->info.channels;
  int size = e->info.image_size;
  float *x = g_new (float, e->per * b), *xt = g_new (float, e->per * b);
  float *out = g_new (float, e->per * b), *out_r = g_new (float, e->per * b);
  float *z = g_new (float, (size_t) b * e->info.z_channels);
  for (int i = 0; i < b; i++)
    memcpy (x + e->per * i, e->images + e->per * (first + MIN (i, count - 1)),
        e->per * sizeof (float));
  DaeStatus st = dae_encode (e->s, b, x, z, n, xt, err);
  if (st == DAE_OK)
    st = dae_decode (e->s, b, z, xt, n, out, err);
  float *nb = g_new (float, e->per * b);
  for (int i = 0; i < b; i++)
    memcpy (nb + e->per * i, e->noise + e->per * (first + MIN (i, count - 1)),
        e->per * sizeof (float));
  if (st == DAE_OK)
    st = dae_decode (e->s, b, z, nb, n, out_r, err);
  for (int i = 0; st == DAE_OK && i < count; i++) {
    const float *ref = x + e->per * i, *a = out + e->per * i, *r = out_r + e->per * i;
    double m1 = tr_mse (ref, a, c, size), m2 = tr_mse (ref, r, c, size);
    *inv = (Quality) { inv->mse + m1, inv->psnr + tr_psnr (m1), inv->ssim + tr_ssim (ref, a, c,
          size) };
    *rnd = (Quality) { rnd->mse + m2, rnd->psnr + tr_psnr (m2), rnd->ssim + tr_ssim (ref, r, c,
          size) };
    if (first + i < GRID_COLS) {
      memcpy (e->recon + e->per * (first + i), a, e->per * sizeof (float));
      memcpy (e->random + e->per * (first + i), r, e->per * sizeof (float));
    }
  }
  g_free (nb);
  g_free (x);
  g_free (xt);
  g_free (out);
  g_free (out_r);
  g_free (z);
  return st;
}

static void
append_quality (GString * j, const char *key, const Quality * q, int n)
{
  g_string_append_printf (j, "\"%s\": {\"mse\": %.6g, \"psnr\": %.4f, \"ssim\": %.5f}", key,
      q->mse / n, q->psnr / n, q->ssim / n);
}

static DaeStatus
reconstruction (Eval * e, DaeError * err)
{
  g_string_append (e->json, "  \"reconstruction\": [");
  printf ("%6s  %-29s  %-29s %8s\n", "steps", "inverted x_T: MSE PSNR SSIM",
      "random x_T: MSE PSNR SSIM", "seconds");
  for (int k = 0; k < e->n_steps; k++) {
    Quality inv = { 0 }, rnd = { 0 };
    gint64 t0 = g_get_monotonic_time ();
    for (int first = 0; first < e->n_images; first += e->batch)
      if (recon_batch (e, first, e->steps[k], &inv, &rnd, err) != DAE_OK)
        return err->code;
    double secs = (g_get_monotonic_time () - t0) / 1e6;
    int n = e->n_images;
    printf ("%6d  %9.3g %8.3f %8.5f   %9.3g %8.3f %8.5f %8.1f\n", e->steps[k], inv.mse / n,
        inv.psnr / n, inv.ssim / n, rnd.mse / n, rnd.psnr / n, rnd.ssim / n, secs);
    g_string_append_printf (e->json, "%s\n    {\"steps\": %d, ", k ? "," : "", e->steps[k]);
    append_quality (e->json, "inverted_xT", &inv, n);
    g_string_append (e->json, ", ");
    append_quality (e->json, "random_xT", &rnd, n);
    g_string_append_printf (e->json, ", \"seconds\": %.2f}", secs);
  }
  g_string_append (e->json, "\n  ],\n");
  return DAE_OK;
}

/* ---- linear probes ---------------------------------------------------------------------- */

typedef struct {
  int n, d;
  float *x;                     /* n x d features */
  int *y;                       /* classes (multinomial) or n_attrs values per row (binary) */
} Features;

/* Labelled images among idx (at most max): z_sem and pixels as features, labels as targets. */
static DaeStatus
features (Eval * e, const TrImageSet * set, const TrLabels * l, const int *classes,
    const int *idx, int n, int max, Features * zf, Features * pf, DaeError * err)
{
  int *chosen = g_new (int, MAX (n, 1)), count = 0;
  for (int i = 0; i < n && count < max; i++)
    if (tr_labels_has (l, idx[i]))
      chosen[count++] = idx[i];
  int per_y = classes ? 1 : l->n_attrs, zc = e->info.z_channels;
  *zf = (Features) { count, zc, g_new (float, (size_t) MAX (count, 1) * zc),
    g_new (int, (size_t) MAX (count, 1) * per_y) };
  *pf = (Features) { count, (int) e->per, g_new (float, e->per * MAX (count, 1)), zf->y };
  for (int i = 0; i < count; i++) {
    tr_image_set_get (set, chosen[i], pf->x + e->per * i);
    for (int a = 0; a < per_y; a++)
      zf->y[i * per_y + a] = classes ? classes[chosen[i]] :
          l->values[(size_t) chosen[i] * l->n_attrs + a];
  }
  DaeStatus st = tr_encode_set (e->s, set, chosen, count, e->batch, zf->x, err);
  g_free (chosen);
  return st;
}

/* The probes' regularisation (L2 and early stopping) is chosen per feature set on a fifth
 * of the training rows unless --l2 and --iterations fix it: z_sem and pixels want different
 * amounts (the pixel probe overfits where z_sem's still improves), so one fixed setting
 * favours one side. */
static const double probe_l2_grid[] = { 0, 1e-4, 1e-3, 1e-2 };

enum { PROBE_MAX_ITERATIONS = 2000 };

/* Fits one probe on train (selected or fixed regularisation) and predicts the tn test rows
 * into pred; the fitting choice is appended to fits (JSON). */
static void
probe_fit_one (Eval * e, const float *x, int n, int d, const int *y, int k, const float *tx,
    int tn, int *pred, GString * fits)
{
  bool fixed_l2 = !isnan (e->a->l2), fixed_it = e->a->iterations != -1;
  const double *grid = fixed_l2 ? &e->a->l2 : probe_l2_grid;
  int n_l2 = fixed_l2 ? 1 : (int) G_N_ELEMENTS (probe_l2_grid);
  int iters = fixed_it ? e->a->iterations : PROBE_MAX_ITERATIONS;
  TrLogRegChoice c = { grid[0], iters, NAN };
  if (!fixed_l2 || !fixed_it)
    c = tr_logreg_select (x, n, d, y, k, grid, n_l2, iters, fixed_it);
  TrLogReg m = { 0 };
  tr_logreg_fit (&m, x, n, d, y, k, c.l2, c.iterations);
  tr_logreg_predict (&m, tx, tn, pred);
  tr_logreg_clear (&m);
  g_string_append_printf (fits, "%s{\"l2\": %g, \"iterations\": %d, \"validation\": ",
      fits->len ? ", " : "", c.l2, c.iterations);
  if (isnan (c.validation_accuracy))
    g_string_append (fits, "null}");
  else
    g_string_append_printf (fits, "%.5f}", c.validation_accuracy);
}

/* The class of test row i for attribute a (binary probes) or its class (k > 0). */
static int
probe_truth (const Features * f, int k, int n_attrs, int a, int i)
{
  return k ? f->y[i] : f->y[i * n_attrs + a];
}

/* Probes fitted on train (features standardised with train's statistics; binary probes,
 * k == 0, one per attribute) predict every test row: pred holds reps x test->n classes. */
static void
probe_predict (Eval * e, Features * train, Features * test, int k, int n_attrs, int *pred,
    GString * fits)
{
  float *mean = g_new (float, train->d), *std = g_new (float, train->d);
  tr_standardise_fit (train->x, train->n, train->d, mean, std);
  tr_standardise (train->x, train->n, train->d, mean, std);
  tr_standardise (test->x, test->n, test->d, mean, std);
  int *y = g_new (int, MAX (train->n, 1));
  for (int a = 0; a < (k ? 1 : n_attrs); a++) {
    for (int i = 0; i < train->n; i++)
      y[i] = probe_truth (train, k, n_attrs, a, i);
    probe_fit_one (e, train->x, train->n, train->d, y, k ? k : 2, test->x, test->n,
        pred + (size_t) a * test->n, fits);
  }
  g_free (y);
  g_free (mean);
  g_free (std);
}

/* Accuracies of the two probes (mean over attributes for binary ones) and the rows where
 * exactly one is right, for McNemar's test: the comparison is paired, row by row. */
typedef struct {
  double z_acc, p_acc;
  int z_only, p_only;
} ProbeComparison;

static ProbeComparison
probe_compare (const Features * test, int k, int n_attrs, const int *zpred, const int *ppred)
{
  ProbeComparison r = { 0 };
  int reps = k ? 1 : n_attrs, rows = reps * test->n;
  for (int a = 0; a < reps; a++)
    for (int i = 0; i < test->n; i++) {
      int t = probe_truth (test, k, n_attrs, a, i), j = a * test->n + i;
      bool zr = zpred[j] == t, pr = ppred[j] == t;
      r.z_acc += zr;
      r.p_acc += pr;
      r.z_only += zr && !pr;
      r.p_only += pr && !zr;
    }
  r.z_acc /= MAX (rows, 1);
  r.p_acc /= MAX (rows, 1);
  return r;
}

static void
features_clear (Features * zf, Features * pf)
{
  g_free (zf->x);
  g_free (zf->y);
  g_free (pf->x);
}

static DaeStatus
probe_run (Eval * e, const TrLabels * l, const TrLabels * tl, DaeError * err)
{
  int *cls = g_new (int, e->data.train_set->count), *tcls = g_new (int, e->data.test_set->count);
  bool multi = tr_labels_classes (l, cls) && tr_labels_classes (tl, tcls);
  int k = multi ? MAX (l->n_attrs, 2) : 0;
  Features ztr = { 0 }, ptr = { 0 }, zte = { 0 }, pte = { 0 };
  int max = TR_OR (e->a->probe_max, -1, 10000);
  DaeStatus st = features (e, e->data.train_set, l, multi ? cls : NULL, e->data.train,
      e->data.n_train, max, &ztr, &ptr, err);
  if (st == DAE_OK)
    st = features (e, e->data.test_set, tl, multi ? tcls : NULL, e->data.test,
        e->data.n_test, G_MAXINT, &zte, &pte, err);
  if (st == DAE_OK && (ztr.n < 2 || zte.n < 1))
    st = dae_error_set (err, DAE_ERR_INVALID, "the probes need labelled training and "
        "held-out images (%d and %d labelled)", ztr.n, zte.n);
  if (st == DAE_OK) {
    printf ("linear probe (%s, %d train / %d held-out images):\n", multi ?
        "multinomial over one-hot classes" : "binary per attribute, mean", ztr.n, zte.n);
    GString *zfits = g_string_new (NULL), *pfits = g_string_new (NULL);
    size_t rows = (size_t) (multi ? 1 : l->n_attrs) * zte.n;
    int *zpred = g_new (int, rows), *ppred = g_new (int, rows);
    probe_predict (e, &ztr, &zte, k, l->n_attrs, zpred, zfits);
    probe_predict (e, &ptr, &pte, k, l->n_attrs, ppred, pfits);
    ProbeComparison c = probe_compare (&zte, k, l->n_attrs, zpred, ppred);
    double p = tr_mcnemar_p (c.z_only, c.p_only);
    printf ("  z_sem accuracy %.4f (fits: %s)\n  raw pixels %.4f (fits: %s)\n"
        "  paired: %d rows right only with z_sem, %d only with pixels; McNemar p = %.3g\n",
        c.z_acc, zfits->str, c.p_acc, pfits->str, c.z_only, c.p_only, p);
    g_string_append_printf (e->json, "  \"probe\": {\"kind\": \"%s\", \"classes\": %d, "
        "\"train\": %d, \"test\": %d, \"z_sem_accuracy\": %.5f, \"pixels_accuracy\": %.5f,\n"
        "            \"z_sem_fits\": [%s],\n            \"pixels_fits\": [%s],\n"
        "            \"paired\": {\"z_sem_only_right\": %d, \"pixels_only_right\": %d, "
        "\"mcnemar_p\": %.4g}},\n", multi ? "multinomial" : "binary-mean", multi ? k : 2,
        ztr.n, zte.n, c.z_acc, c.p_acc, zfits->str, pfits->str, c.z_only, c.p_only, p);
    g_free (zpred);
    g_free (ppred);
    g_string_free (zfits, TRUE);
    g_string_free (pfits, TRUE);
  }
  features_clear (&ztr, &ptr);
  features_clear (&zte, &pte);
  g_free (cls);
  g_free (tcls);
  return st;
}

static DaeStatus
probe (Eval * e, DaeError * err)
{
  if (!e->a->labels)
    return DAE_OK;
  TrLabels *l = NULL, *tl = NULL;
  DaeStatus st = tr_labels_load (e->a->labels, e->data.train_set, &l, err);
  if (st == DAE_OK && e->a->test_data && !e->a->test_labels)
    st = dae_error_set (err, DAE_ERR_INVALID, "--test needs --test-labels for the probes");
  if (st == DAE_OK && e->a->test_data)
    st = tr_labels_load (e->a->test_labels, e->data.test_set, &tl, err);
  if (st == DAE_OK)
    st = probe_run (e, l, tl ? tl : l, err);
  tr_labels_free (l);
  tr_labels_free (tl);
  return st;
}

/* ---- grid ------------------------------------------------------------------------------- */

/* Interpolations between held-out images 2p and 2p+1 (inverted x_T: lerp z_sem, slerp x_T),
 * GRID_COLS frames from alpha 0 to 1, into out (GRID_COLS images). */
static DaeStatus
interpolation_row (Eval * e, int pair, int steps, float *out, DaeError * err)
{
  int zc = e->info.z_channels;
  float *z = g_new (float, 2 * (size_t) zc), *xt = g_new (float, 2 * e->per);
  float *zi = g_new (float, (size_t) GRID_COLS * zc), *xi = g_new (float, GRID_COLS * e->per);
  DaeStatus st = dae_encode (e->s, 2, e->images + e->per * 2 * pair, z, steps, xt, err);
  for (int j = 0; j < GRID_COLS; j++)
    dae_interpolate (z, z + zc, (size_t) zc, xt, xt + e->per, e->per,
        (float) j / (GRID_COLS - 1), zi + (size_t) zc * j, xi + e->per * j);
  if (st == DAE_OK)
    st = dae_decode (e->s, GRID_COLS, zi, xi, steps, out, err);
  g_free (z);
  g_free (xt);
  g_free (zi);
  g_free (xi);
  return st;
}

/* Rows: inputs, reconstructions (inverted x_T), z_sem only (random x_T), up to two
 * interpolation rows, and unconditional samples when the model has a latent sampler. */
static DaeStatus
grid (Eval * e, DaeError * err)
{
  int cols = MIN (GRID_COLS, e->n_images), steps = e->steps[e->n_steps - 1];
  int pairs = MIN (2, e->n_images / 2);
  bool uncond = e->info.has_latent_net && e->info.has_latent_stats;
  int rows = 3 + pairs + uncond;
  float *extra = g_new (float, e->per * GRID_COLS * (pairs + 1));
  const float **cells = g_new0 (const float *, (size_t) rows * GRID_COLS);
  DaeStatus st = DAE_OK;
  for (int p = 0; p < pairs && st == DAE_OK; p++)
    st = interpolation_row (e, p, steps, extra + e->per * GRID_COLS * p, err);
  float *zu = g_new (float, (size_t) GRID_COLS * e->info.z_channels);
  if (st == DAE_OK && uncond && (st = dae_sample_z (e->s, GRID_COLS, steps, 1, zu, err)) == DAE_OK)
    st = dae_decode (e->s, GRID_COLS, zu, e->noise, steps, extra + e->per * GRID_COLS * pairs,
        err);
  g_free (zu);
  for (int c = 0; c < GRID_COLS; c++) {
    if (c < cols) {
      cells[c] = e->images + e->per * c;
      cells[GRID_COLS + c] = e->recon + e->per * c;
      cells[2 * GRID_COLS + c] = e->random + e->per * c;
    }
    for (int r = 0; r < pairs + uncond; r++)
      cells[(3 + r) * GRID_COLS + c] = extra + e->per * (GRID_COLS * r + c);
  }
  char *png = tr_out_path (e->a, "grid.png");
  if (st == DAE_OK)
    st = tr_grid_save (png, cells, rows, GRID_COLS, e->info.channels, e->info.image_size, err);
  if (st == DAE_OK)
    printf ("wrote %s (rows: inputs, reconstructions, z_sem with random x_T%s%s; %d steps)\n",
        png, pairs ? ", interpolations" : "", uncond ? ", unconditional samples" : "", steps);
  g_free (png);
  g_free (cells);
  g_free (extra);
  return st;
}

/* ---- unconditional samples and their nearest training images ---------------------------- */

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Appends "key": {"min", "median", "max"} of v (sorted in place) and prints the same. */
static void
summary (Eval * e, const char *key, const char *label, double *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, compare_doubles);
  g_string_append_printf (e->json, "    \"%s\": {\"min\": %.6g, \"median\": %.6g, "
      "\"max\": %.6g}", key, v[0], v[n / 2], v[n - 1]);
  printf ("  %-44s %10.5f %10.5f %10.5f\n", label, v[0], v[n / 2], v[n - 1]);
}

/* samples.png: GRID_COLS samples per row, each row followed by the nearest training images. */
static DaeStatus
samples_grid (Eval * e, const float *img, const int *best, int n, DaeError * err)
{
  int pairs = MIN (4, (n + GRID_COLS - 1) / GRID_COLS), rows = 2 * pairs;
  const float **cells = g_new0 (const float *, (size_t) rows * GRID_COLS);
  float *nearest = g_new (float, e->per * (size_t) pairs * GRID_COLS);
  for (int i = 0; i < MIN (n, pairs * GRID_COLS); i++) {
    int r = i / GRID_COLS, c = i % GRID_COLS;
    tr_image_set_get (e->data.train_set, best[i], nearest + e->per * i);
    cells[2 * r * GRID_COLS + c] = img + e->per * i;
    cells[(2 * r + 1) * GRID_COLS + c] = nearest + e->per * i;
  }
  char *png = tr_out_path (e->a, "samples.png");
  DaeStatus st = tr_grid_save (png, cells, rows, GRID_COLS, e->info.channels,
      e->info.image_size, err);
  if (st == DAE_OK)
    printf ("wrote %s (rows: samples, their nearest training images)\n", png);
  g_free (png);
  g_free (nearest);
  g_free (cells);
  return st;
}

/* Unconditional samples (z_sem from the latent net, a random x_T, decoded at the largest step
 * count) and the MSE to their nearest training image, next to the same for the held-out
 * images: samples that copied training images would sit far below the held-out figures. */
static DaeStatus
samples (Eval * e, DaeError * err)
{
  int n = TR_OR (e->a->n_samples, -1, 64), steps = e->steps[e->n_steps - 1];
  if (n <= 0 || !e->info.has_latent_net || !e->info.has_latent_stats)
    return DAE_OK;
  uint64_t seed = (uint64_t) TR_OR (e->a->seed, -1, 0) + 1;
  size_t zc = (size_t) e->info.z_channels;
  float *z = g_new (float, zc * n), *img = g_new (float, e->per * n);
  float *noise = tr_random_xt (e->m, n, seed);
  DaeStatus st = dae_sample_z (e->s, n, steps, seed, z, err);
  for (int i = 0; i < n && st == DAE_OK; i += e->batch)
    st = dae_decode (e->s, MIN (e->batch, n - i), z + zc * i, noise + e->per * i, steps,
        img + e->per * i, err);
  int *best = g_new (int, n), *held_best = g_new (int, e->n_images);
  double *mse = g_new (double, n), *held_mse = g_new (double, e->n_images);
  if (st == DAE_OK) {
    tr_nearest (e->data.train_set, e->data.train, e->data.n_train, img, n, best, mse);
    st = samples_grid (e, img, best, n, err);
  }
  if (st == DAE_OK) {
    tr_nearest (e->data.train_set, e->data.train, e->data.n_train, e->images, e->n_images,
        held_best, held_mse);
    printf ("nearest training image (MSE, %d training images)      min     median        max\n",
        e->data.n_train);
    g_string_append_printf (e->json, "  \"samples\": {\"count\": %d, \"steps\": %d, "
        "\"seed\": %llu, \"training_images\": %d,\n", n, steps, (unsigned long long) seed,
        e->data.n_train);
    summary (e, "nearest_train_mse", "unconditional samples", mse, n);
    g_string_append (e->json, ",\n");
    summary (e, "heldout_nearest_train_mse", "held-out images (not in the training set)",
        held_mse, e->n_images);
    g_string_append (e->json, ",\n    \"grid\": \"samples.png\"\n  },\n");
  }
  g_free (z);
  g_free (img);
  g_free (noise);
  g_free (best);
  g_free (held_best);
  g_free (mse);
  g_free (held_mse);
  return st;
}

/* ---- the command -------------------------------------------------------------------------- */

static DaeStatus
prepare (Eval * e, DaeError * err)
{
  TrArgs *a = e->a;
  if (!a->model)
    return dae_error_set (err, DAE_ERR_INVALID, "--model is required");
  if (a->iterations != -1 && a->iterations < 1)
    return dae_error_set (err, DAE_ERR_INVALID, "--iterations must be at least 1");
  if (!isnan (a->l2) && !(a->l2 >= 0))
    return dae_error_set (err, DAE_ERR_INVALID, "--l2 must be 0 or more");
  if (parse_steps (e, err) != DAE_OK || tr_out_make (a, err) != DAE_OK ||
      tr_args_open_backend (a, &e->be, err) != DAE_OK ||
      dae_model_load (e->be, a->model, &e->m, err) != DAE_OK ||
      dae_session_new (e->m, &e->s, err) != DAE_OK)
    return err->code;
  dae_model_info (e->m, &e->info);
  if (tr_data_open (a, e->info.image_size, e->info.channels, &e->data, err) != DAE_OK)
    return err->code;
  e->n_images = MIN (TR_OR (a->n_images, -1, 64), e->data.n_test);
  e->batch = MAX (1, MIN (TR_OR (a->batch, -1, 32), e->n_images));
  if (e->n_images < 1)
    return dae_error_set (err, DAE_ERR_INVALID,
        "no held-out images: give --holdout PCT or --test DATA");
  e->per = tr_image_set_image_floats (e->data.test_set);
  e->images = g_new (float, e->per * e->n_images);
  for (int i = 0; i < e->n_images; i++)
    tr_image_set_get (e->data.test_set, e->data.test[i], e->images + e->per * i);
  e->noise = tr_random_xt (e->m, MAX (e->n_images, GRID_COLS), (uint64_t) TR_OR (a->seed, -1, 0));
  e->recon = g_new0 (float, e->per * GRID_COLS);
  e->random = g_new0 (float, e->per * GRID_COLS);
  return DAE_OK;
}

static void
json_header (Eval * e)
{
  GString *j = e->json;
  g_string_append (j, "{\n  \"model\": ");
  dae_json_append_string (j, e->a->model);
  g_string_append_printf (j, ",\n  \"model_id\": \"%s\",\n  \"backend\": ", dae_model_id (e->m));
  dae_json_append_string (j, dae_backend_description (e->be));
  g_string_append (j, ",\n  \"data\": ");
  dae_json_append_string (j, e->a->test_data ? e->a->test_data : e->a->data);
  g_string_append_printf (j, ",\n  \"images\": %d,\n  \"metrics\": \"images compared on the "
      "[0, 1] scale as floats (no 8-bit rounding); PSNR = 10 log10(1/MSE); SSIM: 11x11 "
      "Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid positions, mean over channels; "
      "inversion steps = decode steps\",\n", e->n_images);
}

static DaeStatus
run (Eval * e, DaeError * err)
{
  if (prepare (e, err) != DAE_OK)
    return err->code;
  printf ("eval: %s on %d held-out images; %s\n", e->a->model, e->n_images,
      dae_backend_description (e->be));
  e->json = g_string_new ("");
  json_header (e);
  if (reconstruction (e, err) != DAE_OK || probe (e, err) != DAE_OK || grid (e, err) != DAE_OK
      || samples (e, err) != DAE_OK)
    return err->code;
  g_string_append_printf (e->json, "  \"grid\": \"grid.png\"\n}\n");
  char *path = tr_out_path (e->a, "report.json");
  DaeStatus st = tr_write_text (path, e->json->str, err);
  if (st == DAE_OK)
    printf ("wrote %s\n", path);
  g_free (path);
  return st;
}

int
tr_cmd_eval (TrArgs * a)
{
  DaeError err = { 0 };
  Eval e = {.a = a };
  DaeStatus st = run (&e, &err);
  if (st != DAE_OK)
    tr_print_error (&err);
  if (e.json)
    g_string_free (e.json, TRUE);
  g_free (e.images);
  g_free (e.noise);
  g_free (e.recon);
  g_free (e.random);
  tr_data_clear (&e.data);
  dae_session_free (e.s);
  if (e.m)
    dae_model_unref (e.m);
  if (e.be)
    dae_backend_unref (e.be);
  return st == DAE_OK ? 0 : 1;
}
