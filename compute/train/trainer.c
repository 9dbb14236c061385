/* The training loop's device side: one step of the autoencoder (encoder + decoder, eps MSE)
 * or of the latent net (eps L1), Adam with gradient-norm clipping, EMA, checkpoints.
 *
 * All of a step's randomness comes from (seed, step): the timesteps and flips from a counter
 * hash, the noise from dae_gaussian_noise, the dropout masks from a seed mixed from both. A
 * checkpoint therefore needs no generator state beyond the step count. */
#include "train/trainer_private.h"
#include "diffusion/schedule.h"
#include "io/model_file.h"
#include "ops/dae_ops.h"
#include "train/init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
dae_train_options_default (DaeTrainOptions * o)
{
  *o = (DaeTrainOptions) {
    .lr = 1e-4f,
    .beta1 = 0.9f,
    .beta2 = 0.999f,
    .adam_eps = 1e-8f,
    .weight_decay = 0.0f,
    .adamw = false,
    .grad_clip = 1.0f,
    .ema_decay = 0.9999f,
    .hflip = true,
    .seed = 0,
  };
}

/* ---- construction -------------------------------------------------------------------------- */

static int
chunk_count (size_t numel)
{
  return (int) ((numel + CHUNK_FLOATS - 1) / CHUNK_FLOATS);
}

size_t
dae_trained_net_numel (const TrainedNet * tn)
{
  return dae_net_layout (tn->net)->total;
}

DaeTensor
dae_flat_view (const DaeTensor * flat, size_t first, size_t count)
{
  DaeTensor v = *flat;
  v.owned = false;
  v.offset = flat->offset + first;
  v.n = v.c = v.h = 1;
  v.w = (int) count;
  v.nstride = count;
  return v;
}

DaeStatus
dae_trainer_add_net (DaeTrainer * t, DaeNetKind kind, const float *values, DaeError * err)
{
  TrainedNet *tn = &t->nets[t->n_nets++];
  tn->kind = kind;
  if (dae_net_new (t->be, &t->cfg, kind, values, &tn->net, err) != DAE_OK)
    return err->code;
  size_t numel = dae_trained_net_numel (tn);
  tn->ema = dae_tensor_new (t->be, 1, 1, 1, (int) numel, err);
  tn->m = tn->ema ? dae_tensor_new (t->be, 1, 1, 1, (int) numel, err) : NULL;
  tn->v = tn->m ? dae_tensor_new (t->be, 1, 1, 1, (int) numel, err) : NULL;
  if (!tn->v)
    return err->code;
  /* EMA starts as a copy of the weights, Adam's moments at zero. */
  for (size_t i = 0; i < numel; i += CHUNK_FLOATS) {
    size_t len = MIN (CHUNK_FLOATS, numel - i);
    DaeTensor src = dae_flat_view (dae_net_params (tn->net), i, len), e = dae_flat_view (tn->ema, i, len);
    DaeTensor m = dae_flat_view (tn->m, i, len), v = dae_flat_view (tn->v, i, len);
    dae_copy (t->s, &e, &src);
    dae_fill (t->s, &m, 0.0f);
    dae_fill (t->s, &v, 0.0f);
  }
  return dae_stream_sync (t->s, err);
}

DaeStatus
dae_trainer_finish_setup (DaeTrainer * t, DaeError * err)
{
  int slots = 0;
  for (int i = 0; i < t->n_nets; i++) {
    t->nets[i].first_slot = slots;
    t->nets[i].n_slots = chunk_count (dae_trained_net_numel (&t->nets[i]));
    slots += t->nets[i].n_slots;
  }
  t->sumsq = dae_tensor_new (t->be, 1, 1, 1, slots, err);
  t->clip = t->sumsq ? dae_tensor_new (t->be, 1, 1, 1, 1, err) : NULL;
  t->loss = t->clip ? dae_tensor_new (t->be, 1, 1, 1, 1, err) : NULL;
  return t->loss ? DAE_OK : err->code;
}

DaeTrainer *
dae_trainer_alloc (DaeBackend * be, const DaeTrainOptions * o, DaeError * err)
{
  DaeTrainer *t = calloc (1, sizeof *t);
  t->be = dae_backend_ref (be);
  if (o)
    t->o = *o;
  else
    dae_train_options_default (&t->o);
  if (dae_stream_new (be, &t->s, err) != DAE_OK) {
    dae_backend_unref (be);
    free (t);
    return NULL;
  }
  return t;
}

static DaeStatus
parse_config (const char *config_json, DaeModelConfig * cfg, DaeError * err)
{
  if (config_json && config_json[0] != '{')
    return dae_model_config_preset (config_json, cfg, err);
  return dae_model_config_from_json (config_json ? config_json : "", cfg, err);
}

DaeStatus
dae_trainer_new (DaeBackend * be, const char *config_json, const DaeTrainOptions * o,
    DaeTrainer ** out, DaeError * err)
{
  *out = NULL;
  DaeTrainer *t = dae_trainer_alloc (be, o, err);
  if (!t)
    return err->code;
  t->phase = DAE_TRAIN_AUTOENC;
  DaeParamList *list = NULL;
  DaeStatus st = parse_config (config_json, &t->cfg, err);
  if (st == DAE_OK)
    st = dae_param_list_new (&t->cfg, &list, err);
  if (st == DAE_OK) {
    float *values = calloc (dae_param_list_numel (list, DAE_PARAM_NET_ALL) + 1, sizeof *values);
    dae_init_params (list, DAE_PARAM_NET_ALL, t->o.seed, values);
    st = dae_trainer_add_net (t, DAE_NET_UNET, values + dae_param_list_offset (list,
            DAE_PARAM_NET_DECODER), err);
    if (st == DAE_OK)
      st = dae_trainer_add_net (t, DAE_NET_ENCODER, values + dae_param_list_offset (list,
              DAE_PARAM_NET_ENCODER), err);
    free (values);
  }
  dae_param_list_free (list);
  if (st == DAE_OK)
    st = dae_trainer_finish_setup (t, err);
  if (st != DAE_OK) {
    dae_trainer_free (t);
    return st;
  }
  *out = t;
  return DAE_OK;
}

static DaeStatus
check_latent_config (const DaeModelConfig * want, const DaeModelFile * mf, DaeError * err)
{
  DaeModelConfig a = *want, b = mf->config;
  a.latent = b.latent = (DaeLatentNetConfig) { 0 };
  if (!dae_model_config_equal (&a, &b))
    return dae_error_set (err, DAE_ERR_INVALID,
        "%s: its autoencoder does not match the requested config", mf->path);
  if (!want->latent.present)
    return dae_error_set (err, DAE_ERR_INVALID,
        "the config has no latent_net: give one to train the latent phase");
  return DAE_OK;
}

DaeStatus
dae_trainer_new_latent (DaeBackend * be, const char *model_path, const char *config_json,
    const float *mean, const float *std, const DaeTrainOptions * o, DaeTrainer ** out,
    DaeError * err)
{
  *out = NULL;
  DaeModelFile *mf = NULL;
  if (dae_model_file_load (model_path, &mf, err) != DAE_OK)
    return err->code;
  DaeTrainer *t = dae_trainer_alloc (be, o, err);
  if (!t) {
    dae_model_file_free (mf);
    return err->code;
  }
  t->phase = DAE_TRAIN_LATENT;
  DaeStatus st = config_json ? parse_config (config_json, &t->cfg, err) : DAE_OK;
  if (!config_json)
    t->cfg = mf->config;
  if (st == DAE_OK)
    st = check_latent_config (&t->cfg, mf, err);
  DaeParamList *list = NULL;
  if (st == DAE_OK)
    st = dae_param_list_new (&t->cfg, &list, err);
  if (st == DAE_OK) {
    /* The autoencoder part of the list is the same in both configs (it comes first). */
    size_t ae = dae_param_list_numel (list, DAE_PARAM_NET_DECODER) +
        dae_param_list_numel (list, DAE_PARAM_NET_ENCODER);
    t->frozen = g_memdup2 (mf->values, ae * sizeof (float));
    float *values = calloc (dae_param_list_numel (list, DAE_PARAM_NET_ALL) + 1, sizeof *values);
    dae_init_params (list, DAE_PARAM_NET_LATENT, t->o.seed, values);
    st = dae_trainer_add_net (t, DAE_NET_LATENT, values + dae_param_list_offset (list,
            DAE_PARAM_NET_LATENT), err);
    free (values);
    size_t zb = (size_t) t->cfg.z_channels * sizeof (float);
    t->latent_mean = g_memdup2 (mean, zb);
    t->latent_std = g_memdup2 (std, zb);
  }
  dae_param_list_free (list);
  dae_model_file_free (mf);
  if (st == DAE_OK)
    st = dae_trainer_finish_setup (t, err);
  if (st != DAE_OK) {
    dae_trainer_free (t);
    return st;
  }
  *out = t;
  return DAE_OK;
}

static void
free_io (DaeTrainer * t)
{
  DaeTensor **ts[] = { &t->x0, &t->xt, &t->eps, &t->eps_hat, &t->d_eps_hat, &t->z, &t->dz,
    &t->t
  };
  for (size_t i = 0; i < G_N_ELEMENTS (ts); i++) {
    dae_tensor_free (*ts[i]);
    *ts[i] = NULL;
  }
  free (t->host_x0);
  free (t->host_xt);
  free (t->host_eps);
  free (t->host_t);
  t->host_x0 = t->host_xt = t->host_eps = t->host_t = NULL;
  for (int i = 0; i < t->n_nets; i++) {
    dae_net_run_free (t->nets[i].run);
    t->nets[i].run = NULL;
  }
  t->n = 0;
}

void
dae_trainer_free (DaeTrainer * t)
{
  if (!t)
    return;
  if (t->s)
    dae_stream_sync (t->s, NULL);
  free_io (t);
  for (int i = 0; i < t->n_nets; i++) {
    dae_tensor_free (t->nets[i].ema);
    dae_tensor_free (t->nets[i].m);
    dae_tensor_free (t->nets[i].v);
    dae_net_free (t->nets[i].net);
  }
  dae_tensor_free (t->sumsq);
  dae_tensor_free (t->clip);
  dae_tensor_free (t->loss);
  dae_stream_free (t->s);
  g_free (t->frozen);
  g_free (t->latent_mean);
  g_free (t->latent_std);
  dae_backend_unref (t->be);
  free (t);
}

DaeTrainPhase
dae_trainer_phase (const DaeTrainer * t)
{
  return t->phase;
}

int64_t
dae_trainer_step (const DaeTrainer * t)
{
  return t->step;
}

const DaeTrainOptions *
dae_trainer_options (const DaeTrainer * t)
{
  return &t->o;
}

void
dae_trainer_set_lr (DaeTrainer * t, float lr)
{
  t->o.lr = lr;
}

/* ---- one step ------------------------------------------------------------------------------ */

/* Per-step random integers: a hash of (seed, step, purpose, index). */
static uint32_t
step_random (const DaeTrainer * t, uint32_t purpose, uint32_t i)
{
  uint64_t x = t->o.seed * 0x9E3779B97F4A7C15ull ^ (uint64_t) t->step * 0xBF58476D1CE4E5B9ull;
  x ^= ((uint64_t) purpose << 32 | i) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  x *= 0xD6E8FEB86659FD93ull;
  x ^= x >> 32;
  return (uint32_t) x;
}

static DaeStatus
ensure_batch (DaeTrainer * t, int n, DaeError * err)
{
  if (t->n == n)
    return DAE_OK;
  free_io (t);
  const DaeModelConfig *c = &t->cfg;
  bool latent = t->phase == DAE_TRAIN_LATENT;
  int ch = latent ? c->z_channels : c->in_channels, hw = latent ? 1 : c->image_size;
  size_t per = (size_t) ch * hw * hw;
  DaeTensor **img[] = { &t->x0, &t->xt, &t->eps, &t->eps_hat, &t->d_eps_hat };
  for (size_t i = 0; i < G_N_ELEMENTS (img); i++)
    if (!(*img[i] = dae_tensor_new (t->be, n, ch, hw, hw, err)))
      return err->code;
  if (!(t->z = dae_tensor_new (t->be, n, c->z_channels, 1, 1, err)) ||
      !(t->dz = dae_tensor_new (t->be, n, c->z_channels, 1, 1, err)) ||
      !(t->t = dae_tensor_new (t->be, n, 1, 1, 1, err)))
    return err->code;
  t->host_x0 = malloc (per * n * sizeof (float));
  t->host_xt = malloc (per * n * sizeof (float));
  t->host_eps = malloc (per * n * sizeof (float));
  t->host_t = malloc ((size_t) n * sizeof (float));
  for (int i = 0; i < t->n_nets; i++)
    if (dae_net_run_new (t->nets[i].net, n, true, &t->nets[i].run, err) != DAE_OK)
      return err->code;
  t->n = n;
  return DAE_OK;
}

/* x0 (flipped at random for images), t ~ U{0..999}, eps ~ N(0, I), x_t = q_sample(x0, t, eps).
 * Given timesteps, noise or flips replace the drawn ones. */
static void
prepare_batch (DaeTrainer * t, const float *batch, const int *timesteps, const float *noise,
    const bool *flips)
{
  bool latent = t->phase == DAE_TRAIN_LATENT;
  DaeScheduleKind kind = latent ? DAE_SCHEDULE_CONST_0008 : DAE_SCHEDULE_LINEAR;
  int ch = latent ? t->cfg.z_channels : t->cfg.in_channels;
  int hw = latent ? 1 : t->cfg.image_size;
  size_t per = (size_t) ch * hw * hw;
  if (noise)
    memcpy (t->host_eps, noise, per * t->n * sizeof (float));
  else
    dae_gaussian_noise (t->o.seed, 2 * (uint64_t) t->step + 1, t->host_eps, per * t->n);
  for (int i = 0; i < t->n; i++) {
    int ts = timesteps ? timesteps[i] : (int) (step_random (t, 1, (uint32_t) i) % DAE_T);
    bool flip = !latent && (flips ? flips[i] : t->o.hflip &&
        (step_random (t, 2, (uint32_t) i) & 1));
    float a, b;
    dae_q_sample_coefs (kind, ts, &a, &b);
    t->host_t[i] = (float) ts;
    const float *src = batch + per * i;
    float *x0 = t->host_x0 + per * i, *xt = t->host_xt + per * i, *e = t->host_eps + per * i;
    for (size_t j = 0; j < per; j++) {
      size_t row = j / (size_t) hw, col = j % (size_t) hw;
      x0[j] = flip ? src[row * hw + (hw - 1 - col)] : src[j];
      xt[j] = a * x0[j] + b * e[j];
    }
  }
  dae_tensor_write (t->s, t->x0, t->host_x0);
  dae_tensor_write (t->s, t->xt, t->host_xt);
  dae_tensor_write (t->s, t->eps, t->host_eps);
  dae_tensor_write (t->s, t->t, t->host_t);
}

static void
forward_backward (DaeTrainer * t)
{
  DaeStream *s = t->s;
  uint32_t dropout_seed = step_random (t, 3, 0);
  for (int i = 0; i < t->n_nets; i++) {
    dae_net_run_set_seed (t->nets[i].run, dropout_seed + (uint32_t) i);
    dae_net_run_zero_grad (t->nets[i].run, s);
  }
  dae_fill (s, t->d_eps_hat, 0.0f);
  if (t->phase == DAE_TRAIN_LATENT) {
    DaeNetRun *run = t->nets[0].run;
    dae_latent_forward (run, s, t->eps_hat, t->xt, t->t);
    dae_l1_loss (s, t->loss, t->d_eps_hat, t->eps_hat, t->eps, 1.0f);
    dae_latent_backward (run, s, t->d_eps_hat, NULL);
    return;
  }
  DaeNetRun *unet = t->nets[0].run, *enc = t->nets[1].run;
  dae_encoder_forward (enc, s, t->z, t->x0);
  dae_unet_forward (unet, s, t->eps_hat, t->xt, t->t, t->z);
  dae_mse_loss (s, t->loss, t->d_eps_hat, t->eps_hat, t->eps, 1.0f);
  dae_fill (s, t->dz, 0.0f);
  dae_unet_backward (unet, s, t->d_eps_hat, NULL, t->dz);
  dae_encoder_backward (enc, s, t->dz, NULL);
}

/* Gradient norm over every trained parameter, clip factor, Adam and EMA, chunk by chunk. */
static void
optimise (DaeTrainer * t)
{
  DaeStream *s = t->s;
  for (int i = 0; i < t->n_nets; i++) {
    TrainedNet *tn = &t->nets[i];
    DaeTensor *grads = dae_net_run_grads (tn->run);
    for (int c = 0; c < tn->n_slots; c++) {
      size_t first = (size_t) c * CHUNK_FLOATS;
      DaeTensor g = dae_flat_view (grads, first, MIN (CHUNK_FLOATS, dae_trained_net_numel (tn) - first));
      DaeTensor slot = dae_flat_view (t->sumsq, (size_t) (tn->first_slot + c), 1);
      dae_sumsq (s, &slot, &g);
    }
  }
  if (t->o.grad_clip > 0)
    dae_clip_factor (s, t->clip, t->sumsq, t->o.grad_clip);
  DaeAdamArgs a = {
    .lr = t->o.lr,.beta1 = t->o.beta1,.beta2 = t->o.beta2,.eps = t->o.adam_eps,
    .weight_decay = t->o.weight_decay,.decoupled = t->o.adamw,.step = (int) (t->step + 1),
    .grad_scale = t->o.grad_clip > 0 ? t->clip : NULL,
  };
  for (int i = 0; i < t->n_nets; i++) {
    TrainedNet *tn = &t->nets[i];
    size_t numel = dae_trained_net_numel (tn);
    for (size_t first = 0; first < numel; first += CHUNK_FLOATS) {
      size_t len = MIN (CHUNK_FLOATS, numel - first);
      DaeTensor p = dae_flat_view (dae_net_params (tn->net), first, len);
      DaeTensor g = dae_flat_view (dae_net_run_grads (tn->run), first, len);
      DaeTensor m = dae_flat_view (tn->m, first, len), v = dae_flat_view (tn->v, first, len);
      DaeTensor e = dae_flat_view (tn->ema, first, len);
      dae_adam_update (s, &p, &g, &m, &v, &a);
      dae_ema_update (s, &e, &p, t->o.ema_decay);
    }
  }
}

DaeStatus
dae_trainer_train_step (DaeTrainer * t, int n, const float *batch, DaeTrainStats * stats,
    DaeError * err)
{
  return dae_trainer_train_step_given (t, n, batch, NULL, NULL, NULL, stats, err);
}

DaeStatus
dae_trainer_train_step_given (DaeTrainer * t, int n, const float *batch,
    const int *timesteps, const float *noise, const bool *flips, DaeTrainStats * stats,
    DaeError * err)
{
  if (n <= 0)
    return dae_error_set (err, DAE_ERR_INVALID, "batch size %d is not positive", n);
  for (int i = 0; timesteps && i < n; i++)
    if (timesteps[i] < 0 || timesteps[i] >= DAE_T)
      return dae_error_set (err, DAE_ERR_INVALID, "timestep %d is outside 0..%d",
          timesteps[i], DAE_T - 1);
  if (ensure_batch (t, n, err) != DAE_OK)
    return err->code;
  prepare_batch (t, batch, timesteps, noise, flips);
  forward_backward (t);
  optimise (t);
  float loss = 0;
  float *slots = calloc ((size_t) t->sumsq->w, sizeof *slots);
  DaeStatus st = dae_tensor_read (t->s, t->loss, &loss, err);
  if (st == DAE_OK)
    st = dae_tensor_read (t->s, t->sumsq, slots, err);
  double total = 0;
  for (int i = 0; i < t->sumsq->w; i++)
    total += slots[i];
  free (slots);
  if (st != DAE_OK)
    return st;
  if (!isfinite (loss) || !isfinite (total))
    return dae_error_set (err, DAE_ERR_INVALID,
        "step %lld: the loss or the gradient is not finite (loss %g); the weights of this "
        "step are not usable, resume from the last checkpoint with a lower learning rate",
        (long long) t->step, loss);
  t->step++;
  if (stats) {
    stats->loss = loss;
    stats->grad_norm = sqrt (total);
    stats->step = t->step;
  }
  return DAE_OK;
}
