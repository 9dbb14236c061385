#include "loop.h"
#include "progress.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

/* Set by the handler; the loop saves and stops at the next step boundary, never mid-step,
 * so a checkpoint always holds a whole step. */
static volatile sig_atomic_t stop_signal;

static void
on_signal (int sig)
{
  stop_signal = sig;
}

static void
install_handlers (struct sigaction *old_int, struct sigaction *old_term)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, old_int);
  sigaction (SIGTERM, &sa, old_term);
}

static DaeStatus
save (TrLoop * l, TrProgress * p, const char *why, DaeError * err)
{
  if (dae_trainer_save (l->t, l->checkpoint, err) != DAE_OK)
    return err->code;
  if (why)
    tr_progress_note (p, "step %lld: checkpoint %s (%s)", (long long) dae_trainer_step (l->t),
        l->checkpoint, why);
  return DAE_OK;
}

static bool
due (int64_t step, int every)
{
  return every > 0 && step % every == 0;
}

/* One step plus what follows it; false on an error. */
static bool
one_step (TrLoop * l, TrProgress * p, float *batch, DaeError * err)
{
  DaeTrainStats stats;
  int64_t step = dae_trainer_step (l->t);
  l->fill (l->ud, step, batch);
  if (dae_trainer_train_step (l->t, l->batch, batch, &stats, err) != DAE_OK)
    return false;
  tr_progress_step (p, stats.step, stats.loss, stats.grad_norm);
  if (due (stats.step, l->checkpoint_every) && stats.step < l->steps &&
      save (l, p, NULL, err) != DAE_OK)
    return false;
  if (l->preview && due (stats.step, l->sample_every) && l->preview (l->ud, stats.step,
          err) != DAE_OK)
    return false;
  return true;
}

int
tr_loop_run (TrLoop * l, DaeError * err)
{
  struct sigaction old_int, old_term;
  stop_signal = 0;
  install_handlers (&old_int, &old_term);
  TrProgress p;
  tr_progress_init (&p, dae_trainer_step (l->t), l->steps, l->batch, l->log_every);
  float *batch = g_new (float, l->item_floats * l->batch);
  int result = 0;
  while (dae_trainer_step (l->t) < l->steps && !stop_signal)
    if (!one_step (l, &p, batch, err)) {
      result = -1;
      break;
    }
  if (result == 0) {
    result = stop_signal;
    const char *why = result ? (result == SIGINT ? "interrupted" : "terminated") : "final";
    if (save (l, &p, why, err) != DAE_OK)
      result = -1;
  }
  tr_progress_end (&p);
  g_free (batch);
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  return result;
}

void
tr_remove_stale_temporaries (const char *folder)
{
  GDir *dir = g_dir_open (folder, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)))
    if (strstr (name, ".safetensors.tmp-") || g_str_has_suffix (name, ".json.tmp-") ||
        strstr (name, ".json.tmp-")) {
      char *path = g_build_filename (folder, name, NULL);
      g_unlink (path);
      g_free (path);
    }
  if (dir)
    g_dir_close (dir);
}
