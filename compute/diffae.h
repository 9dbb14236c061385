/* libdiffae: Diffusion Autoencoders (Preechakul et al., CVPR 2022) in C.
 *
 * The one header that applications, the GStreamer elements and the trainer use. It never
 * names a backend: a DaeBackend is opened with DAE_BACKEND_AUTO (a Vulkan GPU if there is
 * one, else the CPU backend) or as the caller asks.
 *
 * Images cross this API as float CHW planes in [-1, 1] (n * channels * size * size floats,
 * sample after sample), or as 8-bit pixels through the conversion helpers below. z_sem is
 * n * z_channels floats; x_T has the shape of an image.
 *
 * Thread safety:
 *  - A DaeBackend and a DaeModel may be shared by any number of threads: a model is immutable
 *    once loaded, its weights live once on the device, and it is reference-counted.
 *  - A DaeSession belongs to one thread at a time (it holds that thread's stream and
 *    activations). Use one session per thread, e.g. one per GStreamer element.
 *  - The free functions (interpolation, editing, noise, conversions) only read their inputs.
 *
 * Determinism: the same inputs and seed give bit-identical outputs on the same device. */
#ifndef DIFFAE_H
#define DIFFAE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dae_backend.h"
#include "core/dae_error.h"

typedef struct DaeModel DaeModel;
typedef struct DaeSession DaeSession;

/* ---- models ------------------------------------------------------------------------------ */

typedef struct {
  int image_size;                 /* square images of image_size x image_size pixels */
  int channels;                   /* 1 (grey) or 3 (RGB) */
  int z_channels;                 /* length of z_sem */
  bool has_latent_net;            /* unconditional sampling possible (with latent stats) */
  bool has_latent_stats;          /* per-dimension mean/std of z_sem: editing possible */
  int n_attributes;               /* named attribute directions stored with the model */
  size_t parameters;              /* number of weights of all networks */
} DaeModelInfo;

/* Loads a diffae weights file (doc/weights.md) and uploads its weights to be. */
DaeStatus dae_model_load (DaeBackend * be, const char *path, DaeModel ** out, DaeError * err);
DaeModel *dae_model_ref (DaeModel * m);
void dae_model_unref (DaeModel * m);

void dae_model_info (const DaeModel * m, DaeModelInfo * info);
/* A stable identifier of the autoencoder's weights (16 hex digits): latents made with one model
 * can only be decoded by a model with the same identifier. */
const char *dae_model_id (const DaeModel * m);
const char *dae_model_path (const DaeModel * m);
DaeBackend *dae_model_backend (const DaeModel * m);
/* Attribute i (0 .. n_attributes-1) or NULL; index of a name or -1. */
const char *dae_model_attribute (const DaeModel * m, int i);
int dae_model_find_attribute (const DaeModel * m, const char *name);

/* ---- sessions: encoding, decoding, sampling --------------------------------------------- */

DaeStatus dae_session_new (DaeModel * m, DaeSession ** out, DaeError * err);
void dae_session_free (DaeSession * s);
DaeModel *dae_session_model (DaeSession * s);

/* z_sem of n images. When inversion_steps > 0 and x_T is not NULL, also the stochastic code
 * x_T by running deterministic DDIM backwards over inversion_steps steps (the images decode
 * back from (z_sem, x_T) almost exactly). */
DaeStatus dae_encode (DaeSession * s, int n, const float *images, float *z_sem,
    int inversion_steps, float *x_T, DaeError * err);

/* DAE_OK when `steps` DDIM steps can be spaced over the 1000 training timesteps (the published
 * "ddimN" spacing); otherwise DAE_ERR_INVALID naming the nearest counts that can. */
DaeStatus dae_check_steps (int steps, DaeError * err);

/* Images from (z_sem, x_T) by deterministic DDIM with `steps` steps (x0 clipped to [-1, 1]). */
DaeStatus dae_decode (DaeSession * s, int n, const float *z_sem, const float *x_T, int steps,
    float *images, DaeError * err);

/* n samples of z_sem from the latent net (DDIM with `steps` steps in normalised space, then
 * denormalised with the stored statistics), starting from N(0, I) noise of `seed`. */
DaeStatus dae_sample_z (DaeSession * s, int n, int steps, uint64_t seed, float *z_sem,
    DaeError * err);
/* The same from given normalised noise (n * z_channels floats). */
DaeStatus dae_sample_z_from_noise (DaeSession * s, int n, int steps, const float *noise,
    float *z_sem, DaeError * err);

/* ---- latent arithmetic (host only) -------------------------------------------------------- */

/* lerp of z_sem and slerp of x_T (either of the x_T may be NULL: then x_T_out is untouched):
 * theta = arccos(<a,b>/(|a||b|)), x = (sin((1-alpha) theta) a + sin(alpha theta) b) / sin theta,
 * falling back to lerp when a and b are (nearly) parallel. */
void dae_interpolate (const float *z_a, const float *z_b, size_t z_len, const float *x_a,
    const float *x_b, size_t x_len, float alpha, float *z_out, float *x_out);

/* Moves z_sem along named attribute directions: in normalised space,
 * z' = denorm(norm(z) + sum_i strength_i * sqrt(d) * w_i / |w_i|). Unknown names are an error
 * listing the known ones. z_out may be z. */
DaeStatus dae_edit (const DaeModel * m, const float *z, int n_edits, const char *const *names,
    const float *strengths, float *z_out, DaeError * err);

/* Standard normal noise, deterministic in (seed, stream) on every machine. */
void dae_gaussian_noise (uint64_t seed, uint64_t stream, float *out, size_t n);

/* ---- pixels ------------------------------------------------------------------------------- */

typedef enum {
  DAE_PIXELS_GRAY8,
  DAE_PIXELS_RGB,
  DAE_PIXELS_BGR,
  DAE_PIXELS_RGBA,
  DAE_PIXELS_BGRA,
  DAE_PIXELS_RGBX,
  DAE_PIXELS_BGRX,
} DaePixelFormat;

/* Converts one size x size image of 8-bit pixels (rows `stride` bytes apart) to a float CHW
 * plane set of `channels` (1 or 3) in [-1, 1]. Colour to grey uses BT.601 luma; grey to colour
 * repeats the value. */
void dae_pixels_to_float (const uint8_t * pixels, DaePixelFormat format, int size, int stride,
    int channels, float *chw);
/* The reverse: float CHW in [-1, 1] (clamped) to 8-bit pixels; alpha/padding bytes get 255. */
void dae_float_to_pixels (const float *chw, int channels, int size, DaePixelFormat format,
    int stride, uint8_t * pixels);

/* ---- training ----------------------------------------------------------------------------
 *
 * A DaeTrainer owns the weights being trained (encoder and decoder for the autoencoder phase,
 * the latent net for the latent phase), their EMA copies and the Adam state. Each step draws
 * its randomness (timesteps, noise, flips, dropout masks) from (seed, step) alone, so a run
 * resumed from a checkpoint continues bit for bit as if it had never stopped. */

typedef struct DaeTrainer DaeTrainer;

typedef enum {
  DAE_TRAIN_AUTOENC = 0,          /* encoder + decoder, eps MSE on the linear schedule */
  DAE_TRAIN_LATENT,               /* latent net, eps L1 on the constant-0.008 schedule */
} DaeTrainPhase;

typedef struct {
  float lr;                       /* 1e-4 (published) */
  float beta1, beta2, adam_eps;   /* 0.9, 0.999, 1e-8 */
  float weight_decay;             /* 0 */
  bool adamw;                     /* decoupled weight decay */
  float grad_clip;                /* max gradient norm, 1.0; 0 disables */
  float ema_decay;                /* 0.9999 */
  bool hflip;                     /* random horizontal flips (autoencoder phase) */
  uint64_t seed;
} DaeTrainOptions;

typedef struct {
  double loss;
  double grad_norm;               /* before clipping */
  int64_t step;                   /* steps done after this one */
} DaeTrainStats;

void dae_train_options_default (DaeTrainOptions * o);

/* A fresh autoencoder (published initialisation, seeded by o->seed) of the config given as a
 * preset name or a model file's config JSON. */
DaeStatus dae_trainer_new (DaeBackend * be, const char *config_json, const DaeTrainOptions * o,
    DaeTrainer ** out, DaeError * err);
/* The latent phase on a trained autoencoder file: its weights are kept and its latent net starts
 * fresh. config_json (a preset name or JSON; NULL: the file's own) must match the file's
 * autoencoder and declare the latent net. mean/std: the z_sem statistics (z floats each). */
DaeStatus dae_trainer_new_latent (DaeBackend * be, const char *model_path,
    const char *config_json, const float *mean, const float *std, const DaeTrainOptions * o,
    DaeTrainer ** out, DaeError * err);
void dae_trainer_free (DaeTrainer * t);

DaeTrainPhase dae_trainer_phase (const DaeTrainer * t);
int64_t dae_trainer_step (const DaeTrainer * t);
const DaeTrainOptions *dae_trainer_options (const DaeTrainer * t);
/* The options a run may change on resume (lr, clip, EMA decay); the rest stay. */
void dae_trainer_set_lr (DaeTrainer * t, float lr);

/* One optimisation step on a batch: images (n * C * S * S in [-1, 1]) for the autoencoder,
 * normalised z_sem (n * z) for the latent phase. */
DaeStatus dae_trainer_train_step (DaeTrainer * t, int n, const float *batch,
    DaeTrainStats * stats, DaeError * err);

/* The same step with its randomness given (for parity tests against other implementations):
 * timesteps (n ints in 0..999), noise (shaped like the batch), flips (n bools, or NULL for
 * none). Dropout still follows (seed, step); use a config with dropout 0 to compare. */
DaeStatus dae_trainer_train_step_given (DaeTrainer * t, int n, const float *batch,
    const int *timesteps, const float *noise, const bool *flips, DaeTrainStats * stats,
    DaeError * err);

/* Checkpoints: weights, EMA, Adam state, step, options, written atomically (temporary file,
 * fsync, rename): a crash at any moment leaves the previous checkpoint readable. */
DaeStatus dae_trainer_save (DaeTrainer * t, const char *path, DaeError * err);
DaeStatus dae_trainer_load (DaeBackend * be, const char *path, DaeTrainer ** out,
    DaeError * err);

/* Writes the EMA weights as a model file for the plugin, with the latent statistics (when the
 * trainer has them) and `n_dirs` attribute directions (NULL names: none). f16: store halves. */
DaeStatus dae_trainer_export (DaeTrainer * t, const char *path, bool f16, int n_dirs,
    const char *const *dir_names, const float *const *dir_weights, DaeError * err);

#endif
