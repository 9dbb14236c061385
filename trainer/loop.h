/* The training loop shared by the autoencoder and latent phases: batches from a callback,
 * progress, checkpoints every K steps and on SIGINT/SIGTERM, preview grids. */
#ifndef TRAINER_LOOP_H
#define TRAINER_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "diffae.h"

typedef struct {
  DaeTrainer *t;
  const char *checkpoint;       /* checkpoint path */
  int64_t steps;                /* train until dae_trainer_step reaches this */
  int batch;
  size_t item_floats;           /* floats per batch item */
  int checkpoint_every, sample_every, log_every;
  /* Fills the batch of step `step` (the data order depends only on the step). */
  void (*fill) (void *ud, int64_t step, float *batch);
  /* Writes a preview of the current weights (may be NULL). */
  DaeStatus (*preview) (void *ud, int64_t step, DaeError * err);
  void *ud;
} TrLoop;

/* Runs the loop. Returns 0 when every step is done (the last checkpoint written), the signal
 * number when SIGINT or SIGTERM stopped it (after writing a checkpoint of the last finished
 * step), -1 on an error (in err; no checkpoint is written of a step that failed). */
int tr_loop_run (TrLoop * l, DaeError * err);

/* Removes temporary files that a killed run left in folder (NAME.tmp-XXXXXX of the atomic
 * writers). Only call this for a folder no other trainer is writing to. */
void tr_remove_stale_temporaries (const char *folder);

#endif
