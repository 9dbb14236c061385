/* Sessions: encoding (z_sem and the stochastic code x_T), DDIM decoding, latent sampling.
 *
 * A whole DDIM loop is recorded into the session's stream and runs as one submission on
 * Vulkan: the timestep of each step is written into a small tensor in the same recording, and
 * nothing is read back until the loop ends. */
#include "api/model_private.h"
#include "diffusion/schedule.h"
#include "ops/dae_ops.h"

#include <stdlib.h>
#include <string.h>

/* Tensors for one batch size. */
typedef struct {
  int n;
  DaeTensor *x, *eps, *z, *t;           /* image-shaped, z_sem, timesteps */
  DaeTensor *zt, *zeps;                 /* latent sampling */
  float *t_host;
} BatchIO;

struct DaeSession {
  DaeModel *m;
  DaeStream *s;
  GHashTable *runs;                     /* (kind, n) -> DaeNetRun* */
  GHashTable *io;                       /* n -> BatchIO* */
};

static void
batch_io_free (gpointer data)
{
  BatchIO *io = data;
  dae_tensor_free (io->x);
  dae_tensor_free (io->eps);
  dae_tensor_free (io->z);
  dae_tensor_free (io->t);
  dae_tensor_free (io->zt);
  dae_tensor_free (io->zeps);
  free (io->t_host);
  free (io);
}

DaeStatus
dae_session_new (DaeModel * m, DaeSession ** out, DaeError * err)
{
  *out = NULL;
  DaeSession *s = calloc (1, sizeof *s);
  if (dae_stream_new (m->be, &s->s, err) != DAE_OK) {
    free (s);
    return err->code;
  }
  s->m = dae_model_ref (m);
  s->runs = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
      (GDestroyNotify) dae_net_run_free);
  s->io = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, batch_io_free);
  *out = s;
  return DAE_OK;
}

void
dae_session_free (DaeSession * s)
{
  if (!s)
    return;
  dae_stream_sync (s->s, NULL);
  g_hash_table_destroy (s->runs);
  g_hash_table_destroy (s->io);
  dae_stream_free (s->s);
  dae_model_unref (s->m);
  free (s);
}

DaeModel *
dae_session_model (DaeSession * s)
{
  return s->m;
}

static DaeNetRun *
get_run (DaeSession * s, DaeNet * net, int n, DaeError * err)
{
  gpointer key = GINT_TO_POINTER ((dae_net_kind (net) << 24) | n);
  DaeNetRun *run = g_hash_table_lookup (s->runs, key);
  if (!run && dae_net_run_new (net, n, false, &run, err) == DAE_OK)
    g_hash_table_insert (s->runs, key, run);
  return run;
}

static BatchIO *
get_io (DaeSession * s, int n, DaeError * err)
{
  BatchIO *io = g_hash_table_lookup (s->io, GINT_TO_POINTER (n));
  if (io)
    return io;
  const DaeModelConfig *c = &s->m->cfg;
  DaeBackend *be = s->m->be;
  io = calloc (1, sizeof *io);
  io->n = n;
  io->t_host = calloc ((size_t) n, sizeof (float));
  io->x = dae_tensor_new (be, n, c->in_channels, c->image_size, c->image_size, err);
  io->eps = io->x ? dae_tensor_new (be, n, c->in_channels, c->image_size, c->image_size,
      err) : NULL;
  io->z = io->eps ? dae_tensor_new (be, n, c->z_channels, 1, 1, err) : NULL;
  io->t = io->z ? dae_tensor_new (be, n, 1, 1, 1, err) : NULL;
  io->zt = io->t ? dae_tensor_new (be, n, c->z_channels, 1, 1, err) : NULL;
  io->zeps = io->zt ? dae_tensor_new (be, n, c->z_channels, 1, 1, err) : NULL;
  if (!io->zeps) {
    batch_io_free (io);
    return NULL;
  }
  g_hash_table_insert (s->io, GINT_TO_POINTER (n), io);
  return io;
}

static void
write_timestep (DaeSession * s, BatchIO * io, int t)
{
  for (int i = 0; i < io->n; i++)
    io->t_host[i] = (float) t;
  dae_tensor_write (s->s, io->t, io->t_host);
}

static DaeStatus
check_batch (int n, DaeError * err)
{
  if (n <= 0 || n > 4096)
    return dae_error_set (err, DAE_ERR_INVALID, "batch size %d is outside 1..4096", n);
  return DAE_OK;
}

/* x_T from x0 (in io->x) and z_sem (in io->z): DDIM run backwards over the kept steps. */
static void
record_inversion (DaeSession * s, DaeNetRun * run, BatchIO * io, const DaeRespacing * r)
{
  for (int k = 0; k < r->steps; k++) {
    write_timestep (s, io, r->t[k]);
    dae_unet_forward (run, s->s, io->eps, io->x, io->t, io->z);
    DaeDdimArgs a = dae_ddim_invert_args (r, k, true);
    dae_ddim_update (s->s, io->x, io->x, io->eps, &a);
  }
}

DaeStatus
dae_encode (DaeSession * s, int n, const float *images, float *z_sem, int inversion_steps,
    float *x_T, DaeError * err)
{
  if (check_batch (n, err) != DAE_OK)
    return err->code;
  DaeRespacing r;
  bool invert = inversion_steps > 0 && x_T;
  if (invert && dae_respace (DAE_SCHEDULE_LINEAR, inversion_steps, &r, err) != DAE_OK)
    return err->code;
  BatchIO *io = get_io (s, n, err);
  DaeNetRun *enc = io ? get_run (s, s->m->encoder, n, err) : NULL;
  DaeNetRun *unet = (enc && invert) ? get_run (s, s->m->unet, n, err) : enc;
  if (!unet)
    return err->code;
  dae_tensor_write (s->s, io->x, images);
  dae_encoder_forward (enc, s->s, io->z, io->x);
  if (invert)
    record_inversion (s, unet, io, &r);
  if (dae_tensor_read (s->s, io->z, z_sem, err) != DAE_OK)
    return err->code;
  return invert ? dae_tensor_read (s->s, io->x, x_T, err) : DAE_OK;
}

DaeStatus
dae_check_steps (int steps, DaeError * err)
{
  DaeRespacing r;
  return dae_respace (DAE_SCHEDULE_LINEAR, steps, &r, err);
}

DaeStatus
dae_decode (DaeSession * s, int n, const float *z_sem, const float *x_T, int steps,
    float *images, DaeError * err)
{
  DaeRespacing r;
  if (check_batch (n, err) != DAE_OK ||
      dae_respace (DAE_SCHEDULE_LINEAR, steps, &r, err) != DAE_OK)
    return err->code;
  BatchIO *io = get_io (s, n, err);
  DaeNetRun *run = io ? get_run (s, s->m->unet, n, err) : NULL;
  if (!run)
    return err->code;
  dae_tensor_write (s->s, io->z, z_sem);
  dae_tensor_write (s->s, io->x, x_T);
  for (int k = r.steps - 1; k >= 0; k--) {
    write_timestep (s, io, r.t[k]);
    dae_unet_forward (run, s->s, io->eps, io->x, io->t, io->z);
    DaeDdimArgs a = dae_ddim_decode_args (&r, k, true);
    dae_ddim_update (s->s, io->x, io->x, io->eps, &a);
  }
  return dae_tensor_read (s->s, io->x, images, err);
}

DaeStatus
dae_sample_z_from_noise (DaeSession * s, int n, int steps, const float *noise, float *z_sem,
    DaeError * err)
{
  DaeModel *m = s->m;
  if (!m->latent || !m->latent_mean)
    return dae_error_set (err, DAE_ERR_INVALID,
        "%s has no latent net or no latent statistics: it cannot sample z_sem", m->path);
  DaeRespacing r;
  if (check_batch (n, err) != DAE_OK ||
      dae_respace (DAE_SCHEDULE_CONST_0008, steps, &r, err) != DAE_OK)
    return err->code;
  BatchIO *io = get_io (s, n, err);
  DaeNetRun *run = io ? get_run (s, m->latent, n, err) : NULL;
  if (!run)
    return err->code;
  dae_tensor_write (s->s, io->zt, noise);
  for (int k = r.steps - 1; k >= 0; k--) {
    write_timestep (s, io, r.t[k]);
    dae_latent_forward (run, s->s, io->zeps, io->zt, io->t);
    /* The published latent sampler does not clip: z is not bounded like pixels. */
    DaeDdimArgs a = dae_ddim_decode_args (&r, k, false);
    dae_ddim_update (s->s, io->zt, io->zt, io->zeps, &a);
  }
  if (dae_tensor_read (s->s, io->zt, z_sem, err) != DAE_OK)
    return err->code;
  int zc = m->cfg.z_channels;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < zc; j++)
      z_sem[i * zc + j] = z_sem[i * zc + j] * m->latent_std[j] + m->latent_mean[j];
  return DAE_OK;
}

DaeStatus
dae_sample_z (DaeSession * s, int n, int steps, uint64_t seed, float *z_sem, DaeError * err)
{
  if (check_batch (n, err) != DAE_OK)
    return err->code;
  size_t len = (size_t) n * s->m->cfg.z_channels;
  float *noise = malloc (len * sizeof *noise);
  dae_gaussian_noise (seed, 0, noise, len);
  DaeStatus st = dae_sample_z_from_noise (s, n, steps, noise, z_sem, err);
  free (noise);
  return st;
}
