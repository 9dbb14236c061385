#include "progress.h"
#include "util.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#define TTY_INTERVAL_US 250000

void
tr_progress_init (TrProgress * p, int64_t first_step, int64_t total, int batch, int log_every)
{
  *p = (TrProgress) {
    .tty = isatty (STDOUT_FILENO),.first_step = first_step,.total = total,.batch = batch,
    .log_every = log_every > 0 ? log_every : 100,.t0 = g_get_monotonic_time (),
  };
}

static void
format_line (const TrProgress * p, int64_t step, double loss, double grad_norm, char *buf,
    size_t len)
{
  double secs = (g_get_monotonic_time () - p->t0) / 1e6;
  double rate = secs > 0 ? (step - p->first_step) / secs : 0;
  char eta[32];
  tr_format_duration (rate > 0 ? (p->total - step) / rate : 0, eta, sizeof eta);
  g_snprintf (buf, len, "step %lld/%lld  loss %.5f  grad %.3g  %.1f img/s  ETA %s",
      (long long) step, (long long) p->total, loss, grad_norm, rate * p->batch, eta);
}

void
tr_progress_step (TrProgress * p, int64_t step, double loss, double grad_norm)
{
  char line[256];
  p->window_loss += loss;
  p->window_n++;
  int64_t now = g_get_monotonic_time ();
  bool last = step >= p->total;
  if (p->tty ? now - p->last_print < TTY_INTERVAL_US && !last :
      step % p->log_every != 0 && !last)
    return;
  /* Lines carry the mean loss since the previous line: steadier to read. */
  format_line (p, step, p->window_loss / p->window_n, grad_norm, line, sizeof line);
  p->window_loss = 0;
  p->window_n = 0;
  if (p->tty) {
    printf ("\r%-78s", line);
    p->line_open = true;
  } else {
    printf ("%s\n", line);
  }
  fflush (stdout);
  p->last_print = now;
}

void
tr_progress_note (TrProgress * p, const char *fmt, ...)
{
  if (p && p->line_open)
    printf ("\n");
  if (p)
    p->line_open = false;
  va_list ap;
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
  fflush (stdout);
}

void
tr_progress_end (TrProgress * p)
{
  if (p->line_open)
    printf ("\n");
  p->line_open = false;
  fflush (stdout);
}
