/* checkpoint-info CHECKPOINT: loads a training checkpoint with dae_trainer_load (on the CPU
 * backend) and prints its step; exit 1 when it does not load. Used by the kill test. */
#include "diffae.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: checkpoint-info CHECKPOINT\n");
    return 2;
  }
  DaeBackendOptions bo = {.kind = DAE_BACKEND_CPU };
  DaeBackend *be = NULL;
  DaeTrainer *t = NULL;
  DaeError err = { 0 };
  if (dae_backend_open (&bo, &be, &err) != DAE_OK ||
      dae_trainer_load (be, argv[1], &t, &err) != DAE_OK) {
    fprintf (stderr, "checkpoint-info: %s\n", err.message);
    return 1;
  }
  printf ("%lld\n", (long long) dae_trainer_step (t));
  dae_trainer_free (t);
  dae_backend_unref (be);
  return 0;
}
