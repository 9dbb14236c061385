/* DaeModel internals, shared by the files of compute/api/. */
#ifndef DAE_MODEL_PRIVATE_H
#define DAE_MODEL_PRIVATE_H

#include "diffae.h"
#include "model/net.h"

struct DaeModel {
  gint refcount;
  DaeBackend *be;
  char *path;
  DaeModelConfig cfg;
  DaeNet *unet, *encoder, *latent;      /* latent is NULL without a latent net */
  float *latent_mean, *latent_std;      /* [z] each, or NULL */
  int n_attributes;
  char **attribute_names;
  float **attribute_units;              /* w / |w| for each attribute */
  char id[17];
  size_t parameters;
};

#endif
