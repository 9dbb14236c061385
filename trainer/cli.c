#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const summaries[] = {
  [TR_CMD_AUTOENC] = "- train the semantic encoder and the decoder (eps MSE)",
  [TR_CMD_LATENT] = "- train the latent DDIM on z_sem of a trained autoencoder (eps L1)",
  [TR_CMD_CLASSIFY] = "- linear attribute classifiers on normalised z_sem -> directions",
  [TR_CMD_EVAL] = "- reconstruction metrics, linear probes and a sample grid",
  [TR_CMD_EDIT] = "- attribute edits of held-out images, as PNGs to measure",
};

static const char *const names[] = { "autoenc", "latent", "classify", "eval", "edit" };

static void
defaults (TrCommand cmd, TrArgs * a)
{
  memset (a, 0, sizeof *a);
  a->cmd = cmd;
  a->holdout = a->lr = a->beta1 = a->beta2 = a->adam_eps = a->ema_decay = NAN;
  a->grad_clip = a->weight_decay = a->l2 = NAN;
  a->split_seed = a->steps = a->seed = -1;
  a->batch = a->checkpoint_every = a->sample_every = a->log_every = a->sample_steps = -1;
  a->iterations = a->n_images = a->probe_max = a->n_samples = a->ddim_steps = -1;
}

#define E(name, type, field, desc, arg) { name, 0, 0, type, &a->field, desc, arg }

static void
add_common (GOptionContext * ctx, TrArgs * a)
{
  GOptionEntry entries[] = {
    E ("backend", G_OPTION_ARG_STRING, backend, "auto (default), cpu or vulkan", "KIND"),
    E ("data", G_OPTION_ARG_FILENAME, data, "training data: a folder of PNGs or an IDX file",
        "PATH"),
    E ("test", G_OPTION_ARG_FILENAME, test_data,
        "held-out data (folder or IDX); default: a split of --data", "PATH"),
    E ("holdout", G_OPTION_ARG_DOUBLE, holdout,
        "percent of --data held out for evaluation (default 5; 0 with --test)", "PCT"),
    E ("split-seed", G_OPTION_ARG_INT64, split_seed, "seed of the held-out split (default 0)",
        "N"),
    E ("out", G_OPTION_ARG_FILENAME, out, "output folder (or file, for classify)", "PATH"),
    {NULL}
  };
  g_option_context_add_main_entries (ctx, entries, NULL);
}

static void
add_training (GOptionContext * ctx, TrArgs * a)
{
  GOptionEntry entries[] = {
    E ("config", G_OPTION_ARG_STRING, config, "preset name or JSON config file", "NAME|FILE"),
    E ("steps", G_OPTION_ARG_INT64, steps, "total optimisation steps (default 10000)", "N"),
    E ("batch", G_OPTION_ARG_INT, batch, "batch size (default 16)", "N"),
    E ("lr", G_OPTION_ARG_DOUBLE, lr, "Adam learning rate (default 1e-4)", "LR"),
    E ("beta1", G_OPTION_ARG_DOUBLE, beta1, "Adam beta1 (default 0.9)", "B"),
    E ("beta2", G_OPTION_ARG_DOUBLE, beta2, "Adam beta2 (default 0.999)", "B"),
    E ("adam-eps", G_OPTION_ARG_DOUBLE, adam_eps, "Adam epsilon (default 1e-8)", "E"),
    E ("weight-decay", G_OPTION_ARG_DOUBLE, weight_decay, "weight decay (default 0)", "W"),
    E ("adamw", G_OPTION_ARG_NONE, adamw, "decoupled weight decay (AdamW)", NULL),
    E ("grad-clip", G_OPTION_ARG_DOUBLE, grad_clip, "max gradient norm, 0: off (default 1)",
        "N"),
    E ("ema-decay", G_OPTION_ARG_DOUBLE, ema_decay, "EMA decay of the weights (default 0.9999)",
        "D"),
    E ("no-flip", G_OPTION_ARG_NONE, no_flip, "no random horizontal flips", NULL),
    E ("seed", G_OPTION_ARG_INT64, seed, "seed of the init, data order and noise (default 0)",
        "N"),
    E ("checkpoint-every", G_OPTION_ARG_INT, checkpoint_every,
        "steps between checkpoints (default 1000)", "N"),
    E ("sample-every", G_OPTION_ARG_INT, sample_every,
        "steps between sample grids, 0: none (default 1000)", "N"),
    E ("sample-steps", G_OPTION_ARG_INT, sample_steps, "DDIM steps of the sample grids (default 20)",
        "N"),
    E ("log-every", G_OPTION_ARG_INT, log_every,
        "steps between log lines when stdout is not a terminal (default 100)", "N"),
    E ("resume", G_OPTION_ARG_NONE, resume, "continue from OUT/checkpoint.safetensors", NULL),
    E ("f16", G_OPTION_ARG_NONE, f16, "store the exported model as halves", NULL),
    {NULL}
  };
  g_option_context_add_main_entries (ctx, entries, NULL);
}

static void
add_specific (GOptionContext * ctx, TrArgs * a)
{
  GOptionEntry autoenc[] = {
    E ("init", G_OPTION_ARG_FILENAME, init, "start from the weights of this model file", "FILE"),
    {NULL}
  };
  GOptionEntry latent[] = {
    E ("model", G_OPTION_ARG_FILENAME, model, "the trained autoencoder (OUT/model.safetensors)",
        "FILE"),
    {NULL}
  };
  GOptionEntry classify[] = {
    E ("model", G_OPTION_ARG_FILENAME, model, "the model file", "FILE"),
    E ("labels", G_OPTION_ARG_FILENAME, labels, "attribute labels (CSV)", "FILE"),
    E ("test-labels", G_OPTION_ARG_FILENAME, test_labels, "labels of --test (CSV)", "FILE"),
    E ("attributes", G_OPTION_ARG_STRING, attributes, "the directions the output holds: "
        "these label columns, fitted in this order, and no other (default: every column, "
        "added to the file's directions)", "NAME,NAME,..."),
    E ("iterations", G_OPTION_ARG_INT, iterations, "optimiser iterations (default 500)", "N"),
    E ("l2", G_OPTION_ARG_DOUBLE, l2, "L2 regularisation (default 1e-4)", "L"),
    {NULL}
  };
  GOptionEntry eval[] = {
    E ("model", G_OPTION_ARG_FILENAME, model, "the model file", "FILE"),
    E ("labels", G_OPTION_ARG_FILENAME, labels, "labels (CSV) for the linear probes", "FILE"),
    E ("test-labels", G_OPTION_ARG_FILENAME, test_labels, "labels of --test (CSV)", "FILE"),
    E ("steps-list", G_OPTION_ARG_STRING, steps_list, "DDIM step counts (default 10,20,50,100)",
        "N,N,..."),
    E ("images", G_OPTION_ARG_INT, n_images, "held-out images to reconstruct (default 64)", "N"),
    E ("probe-max", G_OPTION_ARG_INT, probe_max,
        "at most this many training images for the probes (default 10000)", "N"),
    E ("iterations", G_OPTION_ARG_INT, iterations, "fix the probes' optimiser iterations "
        "(default: chosen per probe among 62..2000 on a fifth of the training images)", "N"),
    E ("l2", G_OPTION_ARG_DOUBLE, l2, "fix the probes' L2 regularisation (default: chosen "
        "per probe among 0, 1e-4, 1e-3, 1e-2 on a fifth of the training images)", "L"),
    E ("batch", G_OPTION_ARG_INT, batch, "images per encode/decode call (default 32)", "N"),
    E ("seed", G_OPTION_ARG_INT64, seed, "seed of the random x_T (default 0)", "N"),
    E ("samples", G_OPTION_ARG_INT, n_samples, "unconditional samples to draw and compare with "
        "their nearest training images, when the model has a latent net (default 64)", "N"),
    {NULL}
  };
  GOptionEntry edit[] = {
    E ("model", G_OPTION_ARG_FILENAME, model, "the model file (with directions)", "FILE"),
    E ("strengths", G_OPTION_ARG_STRING, strengths,
        "edit strengths, each applied both ways (default 0.5,1)", "S,S,..."),
    E ("ddim-steps", G_OPTION_ARG_INT, ddim_steps,
        "DDIM steps of the inversion and the decodes (default 50)", "N"),
    E ("images", G_OPTION_ARG_INT, n_images, "held-out images to edit (default 100)", "N"),
    E ("batch", G_OPTION_ARG_INT, batch, "images per encode/decode call (default 32)", "N"),
    {NULL}
  };
  const GOptionEntry *pick[] = { autoenc, latent, classify, eval, edit };
  g_option_context_add_main_entries (ctx, pick[a->cmd], NULL);
}

bool
tr_args_parse (TrCommand cmd, int argc, char **argv, TrArgs * a, int *status)
{
  defaults (cmd, a);
  char *prg = g_strdup_printf ("diffae-train %s", names[cmd]);
  g_set_prgname (prg);
  g_free (prg);
  GOptionContext *ctx = g_option_context_new (summaries[cmd]);
  if (cmd == TR_CMD_AUTOENC || cmd == TR_CMD_LATENT)
    add_training (ctx, a);
  add_specific (ctx, a);
  add_common (ctx, a);
  GError *gerr = NULL;
  bool ok = g_option_context_parse (ctx, &argc, &argv, &gerr);
  if (!ok)
    fprintf (stderr, "diffae-train %s: %s (see --help)\n", names[cmd], gerr->message);
  else if (argc > 1) {
    fprintf (stderr, "diffae-train %s: unexpected argument %s (see --help)\n", names[cmd],
        argv[1]);
    ok = false;
  }
  g_clear_error (&gerr);
  g_option_context_free (ctx);
  *status = ok ? 0 : 2;
  return ok;
}

void
tr_args_clear (TrArgs * a)
{
  char **strings[] = { &a->backend, &a->config, &a->data, &a->test_data, &a->out, &a->model,
    &a->labels, &a->test_labels, &a->init, &a->steps_list, &a->strengths, &a->attributes
  };
  for (size_t i = 0; i < G_N_ELEMENTS (strings); i++)
    g_clear_pointer (strings[i], g_free);
}

void
tr_args_train_options (const TrArgs * a, DaeTrainOptions * o)
{
  dae_train_options_default (o);
  o->lr = (float) TR_ORF (a->lr, o->lr);
  o->beta1 = (float) TR_ORF (a->beta1, o->beta1);
  o->beta2 = (float) TR_ORF (a->beta2, o->beta2);
  o->adam_eps = (float) TR_ORF (a->adam_eps, o->adam_eps);
  o->weight_decay = (float) TR_ORF (a->weight_decay, o->weight_decay);
  o->adamw = a->adamw;
  o->grad_clip = (float) TR_ORF (a->grad_clip, o->grad_clip);
  o->ema_decay = (float) TR_ORF (a->ema_decay, o->ema_decay);
  o->hflip = !a->no_flip;
  o->seed = (uint64_t) TR_OR (a->seed, -1, 0);
}

DaeStatus
tr_args_open_backend (const TrArgs * a, DaeBackend ** be, DaeError * err)
{
  DaeBackendOptions bo = { 0 };
  if (a->backend && !dae_backend_kind_parse (a->backend, &bo.kind))
    return dae_error_set (err, DAE_ERR_INVALID, "--backend %s: use auto, cpu or vulkan",
        a->backend);
  return dae_backend_open (&bo, be, err);
}
