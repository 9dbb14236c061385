/* Starting a run from the weights of a model file (fine-tuning, or a parity test from given
 * weights): writes a step-0 checkpoint (doc/training.md, "Checkpoints") whose weights and EMA
 * are the file's and whose Adam moments are zero, for dae_trainer_load. */
#ifndef TRAINER_INIT_FROM_H
#define TRAINER_INIT_FROM_H

#include "diffae.h"
#include "model/config.h"

/* config: the config to train (its autoencoder must have the file's parameter shapes; it may
 * differ in dropout and latent_net), or NULL for the file's own. */
DaeStatus tr_checkpoint_from_model (const char *model_path, const DaeModelConfig * config,
    const DaeTrainOptions * o, const char *checkpoint, DaeError * err);

#endif
