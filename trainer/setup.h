/* What the subcommands share: the data with its held-out part, and OUT/run.json, the settings
 * of a training run that a resumed run must reuse to draw the same batches. */
#ifndef TRAINER_SETUP_H
#define TRAINER_SETUP_H

#include "cli.h"
#include "data.h"

typedef struct {
  TrImageSet *train_set, *test_set;     /* the same set unless --test was given */
  int *train, n_train;                  /* indices into train_set */
  int *test, n_test;                    /* indices into test_set */
} TrData;

/* --data (required) and --test / --holdout / --split-seed, at the model's size. */
DaeStatus tr_data_open (const TrArgs * a, int size, int channels, TrData * d, DaeError * err);
void tr_data_clear (TrData * d);

/* OUT/run.json: phase, data, test, holdout, split_seed, batch, model. */
DaeStatus tr_run_state_save (const TrArgs * a, const char *phase, DaeError * err);
/* Fills the options that were not given from OUT/run.json (when it exists); a given option
 * that differs is reported, since the batches then differ from an uninterrupted run. */
DaeStatus tr_run_state_load (TrArgs * a, const char *phase, DaeError * err);

/* OUT/NAME (g_free). */
char *tr_out_path (const TrArgs * a, const char *name);
/* Creates OUT (and its parents). */
DaeStatus tr_out_make (const TrArgs * a, DaeError * err);

#endif
