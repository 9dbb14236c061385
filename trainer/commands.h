/* The subcommands; each returns the process exit status. */
#ifndef TRAINER_COMMANDS_H
#define TRAINER_COMMANDS_H

#include "cli.h"

int tr_cmd_autoenc (TrArgs * a);
int tr_cmd_latent (TrArgs * a);
int tr_cmd_classify (TrArgs * a);
int tr_cmd_eval (TrArgs * a);
int tr_cmd_edit (TrArgs * a);

#endif
