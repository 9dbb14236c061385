/* DaeTrainer internals shared by trainer.c (steps) and checkpoint.c (saving, loading, export). */
#ifndef DAE_TRAINER_PRIVATE_H
#define DAE_TRAINER_PRIVATE_H

#include "api/model_private.h"

/* Flat parameter tensors are processed in chunks that any device can bind at once. */
#define CHUNK_FLOATS ((size_t) 1 << 24)

typedef struct {
  DaeNetKind kind;
  DaeNet *net;
  DaeTensor *ema, *m, *v;
  DaeNetRun *run;                       /* training run for the current batch size */
  int first_slot, n_slots;              /* gradient-norm slots of this net's chunks */
} TrainedNet;

struct DaeTrainer {
  DaeBackend *be;
  DaeStream *s;
  DaeModelConfig cfg;                   /* the full config (with the latent net if any) */
  DaeTrainOptions o;
  DaeTrainPhase phase;
  int64_t step;
  int n_nets;
  TrainedNet nets[2];
  float *frozen;                        /* latent phase: the autoencoder's values, list order */
  float *latent_mean, *latent_std;
  DaeTensor *sumsq, *clip, *loss;
  int n;                                /* batch size of the io tensors */
  DaeTensor *x0, *xt, *eps, *eps_hat, *d_eps_hat, *z, *dz, *t;
  float *host_x0, *host_xt, *host_eps, *host_t;
};

/* Elements of a trained net's flat tensors. */
size_t dae_trained_net_numel (const TrainedNet * tn);
/* A 1-D view of elements [first, first + count) of flat. */
DaeTensor dae_flat_view (const DaeTensor * flat, size_t first, size_t count);
DaeTrainer *dae_trainer_alloc (DaeBackend * be, const DaeTrainOptions * o, DaeError * err);
/* Adds a trained network with the given initial values (EMA = values, Adam moments zero). */
DaeStatus dae_trainer_add_net (DaeTrainer * t, DaeNetKind kind, const float *values, DaeError * err);
/* Gradient-norm slots and scalars, once every trained net is added. */
DaeStatus dae_trainer_finish_setup (DaeTrainer * t, DaeError * err);

#endif
