/* The part of the autoenc and latent subcommands that is the same: defaults and checks of the
 * training options, the loop around a prepared trainer, the preview grids and the export. */
#ifndef TRAINER_TRAIN_RUN_H
#define TRAINER_TRAIN_RUN_H

#include "cli.h"
#include "loop.h"
#include "setup.h"
#include "model/config.h"

#define TR_DEFAULT_STEPS 10000
#define TR_DEFAULT_BATCH 16
#define TR_PREVIEW_IMAGES 8

typedef struct {
  TrArgs *a;
  DaeBackend *be;
  DaeTrainer *t;
  const float *preview_images;  /* TR_PREVIEW_IMAGES or fewer images for the grids */
  int n_preview;
} TrTrainRun;

/* The preview images: the first held-out ones (training images when nothing is held out). */
float *tr_preview_images (const TrData * d, int *n);
/* Fills the defaults of the loop options and checks them all. */
DaeStatus tr_train_args_check (TrArgs * a, DaeError * err);
/* OUT/checkpoint.safetensors when --resume was given and it exists, else NULL (g_free). */
char *tr_resume_checkpoint (const TrArgs * a);
/* Loads the checkpoint of a resumed run, checks its phase and applies --lr. */
DaeStatus tr_train_resume (TrTrainRun * r, const char *checkpoint, DaeTrainPhase phase,
    DaeError * err);
/* Runs the loop (fill: the batch callback; ud its data, a struct whose first member is the
 * TrTrainRun, which the preview callback uses), then exports OUT/model.safetensors.
 * Returns the process exit status (0, 128 + signal, 1). */
int tr_train_run (TrTrainRun * r, size_t item_floats, void (*fill) (void *, int64_t, float *),
    void *ud);
/* The config of a checkpoint's metadata. */
DaeStatus tr_checkpoint_config (const char *checkpoint, DaeModelConfig * cfg, DaeError * err);
/* A preset name or JSON text to a config. */
DaeStatus tr_config_parse (const char *text, DaeModelConfig * cfg, DaeError * err);

#endif
