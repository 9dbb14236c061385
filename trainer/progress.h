/* Training progress: on a terminal one line rewritten in place (\r) a few times a second;
 * otherwise (a log file, a pipe) a plain line every log_every steps. */
#ifndef TRAINER_PROGRESS_H
#define TRAINER_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  bool tty;
  int64_t first_step, total;    /* steps at the start of this process; the target */
  int batch, log_every;
  int64_t t0, last_print;       /* monotonic microseconds */
  double window_loss;           /* losses since the last plain line */
  int window_n;
  bool line_open;               /* a \r line is on screen */
} TrProgress;

void tr_progress_init (TrProgress * p, int64_t first_step, int64_t total, int batch,
    int log_every);
/* After step `step` (steps done) with its loss and gradient norm. */
void tr_progress_step (TrProgress * p, int64_t step, double loss, double grad_norm);
/* A message on its own line (the progress line is redrawn by the next step). */
void tr_progress_note (TrProgress * p, const char *fmt, ...) __attribute__((format (printf, 2, 3)));
void tr_progress_end (TrProgress * p);

#endif
