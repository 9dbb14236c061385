/* diffae model files (doc/weights.md): load a safetensors file into a config, the host f32
 * values of every parameter (named by the config's DaeParamList) and the extras (latent
 * statistics, attribute directions); and write one.
 *
 *   DaeModelFile *mf;
 *   if (dae_model_file_load (path, &mf, &err)) ... err.message names the file and tensor
 *   const float *w = dae_model_file_param_by_name (mf, "out.2.weight");
 *   int i = dae_param_list_find (mf->params, "out.2.bias");   (then dae_model_file_param (mf, i))
 *   dae_model_file_free (mf);
 */
#ifndef DAE_MODEL_FILE_H
#define DAE_MODEL_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/dae_error.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/params.h"

#define DAE_MODEL_FORMAT "1"
#define DAE_DIRECTION_NAME_MAX 128    /* bytes of a direction NAME, without the NUL */

/* direction.NAME [z] and the optional direction.NAME.bias [1]. */
typedef struct {
  char *name;                   /* NAME, [A-Za-z0-9_-]+ */
  float *weight;                /* [z_channels], not all zero */
  bool has_bias;
  float bias;
} DaeDirection;

/* Extras for dae_model_file_write (borrowed). */
typedef struct {
  const float *latent_mean;     /* [z_channels], or NULL; given together with latent_std */
  const float *latent_std;      /* [z_channels], every value > 0 */
  size_t n_directions;
  const DaeDirection *directions;
} DaeModelExtras;

typedef struct {
  char *path;                   /* as given to load (NULL for dae_model_file_new) */
  DaeModelConfig config;
  DaeParamList *params;         /* names, shapes, offsets; the index of everything below */
  float *values;                /* every parameter in list order, concatenated: parameter i is
                                 * values + dae_param_list_get (params, i)->offset */
  DaeDtype dtype;               /* how the file stored the parameters (F16 if any was F16) */
  float *latent_mean;           /* [z_channels] or NULL; latent_std is NULL exactly when it is */
  float *latent_std;
  size_t n_directions;
  DaeDirection *directions;     /* in file order */
} DaeModelFile;

/* Opens, validates and reads path. DAE_ERR_IO for a file that cannot be opened, DAE_ERR_FORMAT
 * for any problem with its contents (the message names the file and, where there is one, the
 * tensor), DAE_ERR_OUT_OF_MEMORY. Checks: container (safetensors.h), diffae.format == "1",
 * diffae.config, exactly the tensors of the config with their shapes (plus the allowed extras
 * and byte-equal cond_layers.1 copies of linear_emb), every value finite, latent.std > 0,
 * directions not all zero. */
DaeStatus dae_model_file_load (const char *path, DaeModelFile ** out, DaeError * err);

/* A model of cfg with every parameter zero and no extras (to fill, then save). */
DaeStatus dae_model_file_new (const DaeModelConfig * cfg, DaeModelFile ** out, DaeError * err);

void dae_model_file_free (DaeModelFile * mf);

/* Parameter index of mf->params (NULL when out of range / no such name). */
float *dae_model_file_param (const DaeModelFile * mf, size_t index);
float *dae_model_file_param_by_name (const DaeModelFile * mf, const char *name);

const DaeDirection *dae_model_file_direction (const DaeModelFile * mf, const char *name);

/* Replaces the latent statistics (copied; NULL, NULL removes them). */
DaeStatus dae_model_file_set_latent_stats (DaeModelFile * mf, const float *mean,
    const float *std, DaeError * err);
/* Removes every direction. */
void dae_model_file_clear_directions (DaeModelFile * mf);
/* Adds or replaces direction name (weight copied). */
DaeStatus dae_model_file_set_direction (DaeModelFile * mf, const char *name,
    const float *weight, bool has_bias, float bias, DaeError * err);

/* Writes mf to path (atomically) with the parameters stored as dtype; extras are F32. */
DaeStatus dae_model_file_save (const DaeModelFile * mf, const char *path, DaeDtype dtype,
    DaeError * err);

/* Writes a model file from a config and parameter arrays in list order (params[i] holds
 * dae_param_list_get (list, i)->numel floats; the list is dae_param_list_new (cfg)), extras
 * optional (NULL). Refuses (DAE_ERR_INVALID, naming the tensor) what the loader would refuse:
 * non-finite values, values that overflow F16 when dtype is F16, bad direction names,
 * latent_std <= 0. */
DaeStatus dae_model_file_write (const char *path, const DaeModelConfig * cfg,
    const float *const *params, const DaeModelExtras * extras, DaeDtype dtype, DaeError * err);

/* True when name is a valid direction NAME ([A-Za-z0-9_-]+, at most DAE_DIRECTION_NAME_MAX). */
bool dae_direction_name_valid (const char *name);

#endif
