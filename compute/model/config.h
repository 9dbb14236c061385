/* The model configuration (doc/weights.md, "Config"): the JSON object stored as
 * __metadata__["diffae.config"] of a weights file, the published presets, and validation. */
#ifndef DAE_MODEL_CONFIG_H
#define DAE_MODEL_CONFIG_H

#include <stdbool.h>

#include "core/dae_error.h"

#define DAE_CONFIG_MAX_LEVELS 8       /* entries of channel_mult / enc_channel_mult */
#define DAE_CONFIG_MAX_ATTN 8         /* entries of attn_resolutions */
#define DAE_CONFIG_NAME_MAX 64        /* bytes of name, with the NUL */
#define DAE_CONFIG_MAX_WIDTH 65536    /* any channel count */
#define DAE_CONFIG_MAX_IMAGE 65536

typedef struct {
  bool present;                 /* false: "latent_net": null, the other fields are 0 */
  int num_layers;
  int hidden_channels;
  int time_channels;
  double dropout;
} DaeLatentNetConfig;

typedef struct {
  char name[DAE_CONFIG_NAME_MAX];
  int image_size;
  int in_channels;              /* 1 (grey) or 3 (RGB); the decoder predicts as many */
  int base_channels;
  int channel_mult[DAE_CONFIG_MAX_LEVELS];      /* decoder levels */
  int n_channel_mult;
  int enc_channel_mult[DAE_CONFIG_MAX_LEVELS];  /* encoder levels */
  int n_enc_channel_mult;
  int num_res_blocks;
  int attn_resolutions[DAE_CONFIG_MAX_ATTN];    /* feature-map sizes with attention */
  int n_attn_resolutions;
  int embed_channels;
  int z_channels;
  double dropout;
  DaeLatentNetConfig latent;    /* "latent_net" in the JSON */
} DaeModelConfig;

/* Published configurations and the two test ones: ffhq64, ffhq128, bedroom128, horse128,
 * ffhq256, small, tiny_grey (the values of tools/reference/diffae_ref.py PRESETS).
 * NULL-terminated list. */
const char *const *dae_model_config_preset_names (void);

/* DAE_ERR_INVALID for an unknown name (the message lists the presets). */
DaeStatus dae_model_config_preset (const char *name, DaeModelConfig * out, DaeError * err);

/* Parses the config JSON strictly: every key required, no unknown or repeated key, integers
 * where integers are due; then validates. DAE_ERR_FORMAT with a message naming the key. */
DaeStatus dae_model_config_from_json (const char *json, DaeModelConfig * out, DaeError * err);

/* The config as JSON, keys in the documented order, formatted as Python's json.dumps does
 * (so the reference and the C code write the same bytes). Free with g_free. */
char *dae_model_config_to_json (const DaeModelConfig * cfg);

/* DAE_ERR_INVALID with a message naming the field when cfg breaks a rule of doc/weights.md. */
DaeStatus dae_model_config_validate (const DaeModelConfig * cfg, DaeError * err);

bool dae_model_config_equal (const DaeModelConfig * a, const DaeModelConfig * b);

/* True when attn_resolutions holds resolution (a feature-map size in pixels). */
bool dae_model_config_has_attention (const DaeModelConfig * cfg, int resolution);

/* GroupNorm group count for a width: the largest divisor of channels that is at most 32
 * (min(32, C) for every published width), as the PyTorch reference does. */
int dae_groupnorm_groups (int channels);

#endif
