/* diffae-train: the companion trainer of the diffae plugin (doc/training.md).
 *
 *   diffae-train autoenc  --config CFG --data DATA --out DIR [...]   encoder + decoder
 *   diffae-train latent   --model DIR/model.safetensors --data DATA --out DIR2 [...]
 *   diffae-train classify --model MODEL --data DATA --labels CSV [...]
 *   diffae-train eval     --model MODEL --data DATA --out DIR [--labels CSV] [...]
 *   diffae-train edit     --model MODEL --data DATA --out DIR [--strengths S,S] [...]
 *
 * Each subcommand has --help. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static void
usage (FILE * f)
{
  fprintf (f, "usage: diffae-train COMMAND [OPTIONS]   (diffae-train COMMAND --help)\n\n"
      "  autoenc   train the semantic encoder and the decoder on images\n"
      "  latent    train the latent DDIM on z_sem of a trained autoencoder\n"
      "  classify  linear attribute classifiers -> editing directions in the model file\n"
      "  eval      reconstruction metrics, linear probes, a sample grid\n"
      "  edit      attribute edits of held-out images, as PNGs to measure\n\n"
      "See doc/training.md.\n");
}

int
main (int argc, char **argv)
{
  static const struct {
    const char *name;
    TrCommand cmd;
    int (*run) (TrArgs *);
  } commands[] = {
    {"autoenc", TR_CMD_AUTOENC, tr_cmd_autoenc},
    {"latent", TR_CMD_LATENT, tr_cmd_latent},
    {"classify", TR_CMD_CLASSIFY, tr_cmd_classify},
    {"eval", TR_CMD_EVAL, tr_cmd_eval},
    {"edit", TR_CMD_EDIT, tr_cmd_edit},
  };
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0) {
      TrArgs a;
      int status;
      if (!tr_args_parse (commands[i].cmd, argc - 1, argv + 1, &a, &status))
        return status;
      status = commands[i].run (&a);
      tr_args_clear (&a);
      return status;
    }
  fprintf (stderr, "diffae-train: unknown command %s\n", argv[1]);
  usage (stderr);
  return 2;
}
