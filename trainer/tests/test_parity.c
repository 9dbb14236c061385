/* The C side of the one-step parity test (test_parity.sh, parity_ref.py): starts a trainer from
 * MODEL's weights (as `diffae-train autoenc --init` does), runs the steps of INPUTS with their
 * given timesteps, noise and flips, and writes CHECKPOINT and the losses (one per line).
 *
 *   test-parity [--lr X --beta1 X --beta2 X --eps X --weight-decay X --adamw --grad-clip X
 *                --ema-decay X] MODEL INPUTS CHECKPOINT LOSSES
 *
 * The backend is DIFFAE_BACKEND's (exit 77, a skip, when a Vulkan run finds no device). */
#include "diffae.h"
#include "../init_from.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/safetensors.h"

static double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0, clip = 1, ema = 0.9;
static gboolean adamw;

static GOptionEntry entries[] = {
  {"lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "learning rate", "X"},
  {"beta1", 0, 0, G_OPTION_ARG_DOUBLE, &beta1, "beta1", "X"},
  {"beta2", 0, 0, G_OPTION_ARG_DOUBLE, &beta2, "beta2", "X"},
  {"eps", 0, 0, G_OPTION_ARG_DOUBLE, &eps, "Adam epsilon", "X"},
  {"weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &wd, "weight decay", "X"},
  {"adamw", 0, 0, G_OPTION_ARG_NONE, &adamw, "decoupled weight decay", NULL},
  {"grad-clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip, "gradient clip", "X"},
  {"ema-decay", 0, 0, G_OPTION_ARG_DOUBLE, &ema, "EMA decay", "X"},
  {NULL}
};

static int
fail (const DaeError * err)
{
  fprintf (stderr, "test-parity: %s\n", err->message);
  return err->code == DAE_ERR_NO_DEVICE ? 77 : 1;
}

/* Runs step k of the inputs. */
static DaeStatus
run_step (DaeTrainer * t, DaeSafetensors * in, int k, FILE * losses, DaeError * err)
{
  char name[4][32];
  const char *parts[] = { "batch", "t", "noise", "flip" };
  for (int i = 0; i < 4; i++)
    g_snprintf (name[i], sizeof name[i], "%s.%d", parts[i], k);
  const DaeSafetensorsTensor *b = dae_safetensors_find (in, name[0]);
  if (!b)
    return dae_error_set (err, DAE_ERR_FORMAT, "no tensor %s", name[0]);
  int n = (int) b->dims[0];
  float *batch = g_new (float, b->numel), *noise = g_new (float, b->numel);
  float *tf = g_new (float, n), *ff = g_new (float, n);
  int *ts = g_new (int, n);
  bool *flips = g_new (bool, n);
  DaeStatus st = dae_safetensors_read_f32 (in, name[0], batch, b->numel, err);
  if (st == DAE_OK)
    st = dae_safetensors_read_f32 (in, name[1], tf, (size_t) n, err);
  if (st == DAE_OK)
    st = dae_safetensors_read_f32 (in, name[2], noise, b->numel, err);
  if (st == DAE_OK)
    st = dae_safetensors_read_f32 (in, name[3], ff, (size_t) n, err);
  for (int i = 0; i < n; i++) {
    ts[i] = (int) tf[i];
    flips[i] = ff[i] > 0.5f;
  }
  DaeTrainStats stats;
  if (st == DAE_OK)
    st = dae_trainer_train_step_given (t, n, batch, ts, noise, flips, &stats, err);
  if (st == DAE_OK)
    fprintf (losses, "%.9g\n", stats.loss);
  g_free (batch);
  g_free (noise);
  g_free (tf);
  g_free (ff);
  g_free (ts);
  g_free (flips);
  return st;
}

static int
run (char **argv)
{
  DaeError err = { 0 };
  DaeTrainOptions o;
  dae_train_options_default (&o);
  o.lr = (float) lr;
  o.beta1 = (float) beta1;
  o.beta2 = (float) beta2;
  o.adam_eps = (float) eps;
  o.weight_decay = (float) wd;
  o.adamw = adamw;
  o.grad_clip = (float) clip;
  o.ema_decay = (float) ema;
  DaeBackendOptions bo = { 0 };
  DaeBackend *be = NULL;
  DaeTrainer *t = NULL;
  DaeSafetensors *in = NULL;
  if (dae_backend_open (&bo, &be, &err) != DAE_OK)
    return fail (&err);
  printf ("backend: %s\n", dae_backend_description (be));
  if (tr_checkpoint_from_model (argv[1], NULL, &o, argv[3], &err) != DAE_OK ||
      dae_trainer_load (be, argv[3], &t, &err) != DAE_OK ||
      dae_safetensors_open (argv[2], &in, &err) != DAE_OK)
    return fail (&err);
  FILE *losses = fopen (argv[4], "w");
  DaeStatus st = DAE_OK;
  char name[32];
  for (int k = 0; st == DAE_OK; k++) {
    g_snprintf (name, sizeof name, "batch.%d", k);
    if (!dae_safetensors_find (in, name))
      break;
    st = run_step (t, in, k, losses, &err);
  }
  fclose (losses);
  if (st == DAE_OK)
    st = dae_trainer_save (t, argv[3], &err);
  dae_safetensors_close (in);
  dae_trainer_free (t);
  dae_backend_unref (be);
  return st == DAE_OK ? 0 : fail (&err);
}

int
main (int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new ("MODEL INPUTS CHECKPOINT LOSSES");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *gerr = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &gerr) || argc != 5) {
    fprintf (stderr, "test-parity: %s\n", gerr ? gerr->message : "need 4 paths");
    return 2;
  }
  g_option_context_free (ctx);
  return run (argv);
}
