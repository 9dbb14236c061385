/* Command-line options of diffae-train: one struct for every subcommand (each subcommand
 * offers the options it uses), with "not given" sentinels so that a resumed run can take its
 * settings from the run it continues. */
#ifndef TRAINER_CLI_H
#define TRAINER_CLI_H

#include <glib.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "diffae.h"

typedef enum {
  TR_CMD_AUTOENC,
  TR_CMD_LATENT,
  TR_CMD_CLASSIFY,
  TR_CMD_EVAL,
  TR_CMD_EDIT,
} TrCommand;

typedef struct {
  TrCommand cmd;
  /* common */
  char *backend, *config, *data, *test_data, *out, *model, *labels, *test_labels, *init;
  double holdout;               /* percent; NAN: not given */
  gint64 split_seed;            /* -1: not given */
  /* training */
  gint64 steps, seed;           /* -1: not given */
  int batch, checkpoint_every, sample_every, log_every, sample_steps;   /* -1: not given */
  double lr, beta1, beta2, adam_eps, ema_decay, grad_clip, weight_decay;  /* NAN: not given */
  gboolean adamw, no_flip, resume, f16;
  /* classify and eval */
  char *attributes;             /* classify: NAME,NAME,... of the labels to fit; NULL: all */
  int iterations, n_images, probe_max, n_samples;
  double l2;
  char *steps_list;
  /* edit */
  char *strengths;
  int ddim_steps;
} TrArgs;

/* Parses argv after the subcommand name. Returns false (after printing the problem or the
 * help) when the program should exit with *status. */
bool tr_args_parse (TrCommand cmd, int argc, char **argv, TrArgs * a, int *status);
void tr_args_clear (TrArgs * a);

/* The training options: the library's defaults overridden by what was given. */
void tr_args_train_options (const TrArgs * a, DaeTrainOptions * o);
/* Opens the backend of --backend (auto|cpu|vulkan; auto honours $DIFFAE_BACKEND). */
DaeStatus tr_args_open_backend (const TrArgs * a, DaeBackend ** be, DaeError * err);

/* Value or default. */
#define TR_OR(v, unset, def) ((v) == (unset) ? (def) : (v))
#define TR_ORF(v, def) (isnan (v) ? (def) : (v))

#endif
