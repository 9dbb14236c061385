#!/usr/bin/python3
"""Self-test of tools/inversion_drift.py.

Its pieces against cases with known answers: the MSE split of a uniform shift (all of it
shift); an eps predictor that returns x (tracks an offset fully: 1) and one that returns 0
(none: 0); with a nonlinear stand-in for the model, diffae_ref.DDIM's inversion run in two
parts (start/stop) is the whole one, and its middle is the state the final move starts from.
Then the command on a random `small` model and a generated 16x16 set: runs, writes finite figures
whose shift part is within the total; refuses images of another size and a step count that
cannot be spaced. Exit status 0 on success.
"""
import json
import math
import os
import shutil
import sys
import tempfile

import torch

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import diffae_ref as ref  # noqa: E402
import inversion_drift as drift  # noqa: E402
from test_probe_factors import (check, check_other_size_refused, failures,  # noqa: E402
                                run_tool, small_set)


def check_pieces():
    x0 = torch.rand(2, 3, 8, 8) * 2 - 1
    total, shift = drift.mse_split(x0 + 0.2, x0)
    check(abs(total - 0.01) < 1e-6 and abs(shift - 0.01) < 1e-6,
          "a uniform shift of 0.1 is MSE 0.01, all of it shift (%.6f, %.6f)" % (total, shift))

    ddim = ref.DDIM(ref.linear_betas(), 10)
    follows = drift.offset_tracking(ddim, lambda x, t: x, (2, 3, 8, 8))
    blind = drift.offset_tracking(ddim, lambda x, t: torch.zeros_like(x), (2, 3, 8, 8))
    check(abs(follows - 1) < 1e-5 and abs(blind) < 1e-6,
          "offset tracking: 1 for eps = x, 0 for eps = 0 (%.6f, %.6f)" % (follows, blind))

    # A smooth nonlinear stand-in for a model: the inversion in two parts (as inversion_drift
    # runs it) must be the whole inversion, and its middle the state the final move starts from.
    def eps_fn(x, t):
        return torch.tanh(x) * (0.5 + t[:, None, None, None] / 2000)

    ddim = ref.DDIM(ref.linear_betas(), 20)
    top = len(ddim.steps) - 1
    last = ddim.invert(eps_fn, x0, stop=top)
    x_T = ddim.invert(eps_fn, last, start=top)
    err_inv = (x_T - ddim.invert(eps_fn, x0)).abs().max().item()
    check(err_inv < 1e-6, "the inversion in two parts is the whole inversion (%.2g)" % err_inv)
    x0_top, eps_top = ddim._pred_x0(top, last, eps_fn(last, ref._t(ddim.steps[top], 2)), True)
    moved = ddim._combine(0.0, x0_top, eps_top)
    check((moved - x_T).abs().max().item() < 1e-6 and (last - x_T).abs().max().item() > 1e-3,
          "the last state is the one the final move to abar = 0 starts from")


def run(model, data, *extra):
    return run_tool("inversion_drift.py", model, data, "--images", "4", "--threads", "1", *extra)


def check_command():
    tmp = tempfile.mkdtemp()
    try:
        data, model = small_set(tmp, 8, 8, 5)
        out = os.path.join(tmp, "out.json")
        r = run(model, data, "--steps", "10", "--json", out)
        print(r.stdout + r.stderr)
        check(r.returncode == 0, "inversion_drift runs (exit %d)" % r.returncode)
        if r.returncode == 0:
            j = json.load(open(out))
            rows = (j["from_xT"], j["from_last_state"])
            check(all(math.isfinite(v) for row in rows for v in row.values()) and
                  math.isfinite(j["offset_tracking"]), "finite figures")
            check(all(0 <= row["mean_shift"] <= row["mse"] + 1e-12 for row in rows),
                  "the mean shift is part of the MSE")
            check(j["from_last_state"]["t"] == 900, "10 steps: the last kept step is t = 900")

        check_other_size_refused(run, tmp, data, 6)
        r = run(model, data, "--steps", "600")
        check(r.returncode != 0 and "cannot respace" in r.stderr,
              "a step count that cannot be spaced is refused")
    finally:
        shutil.rmtree(tmp)


def main():
    torch.manual_seed(0)
    check_pieces()
    check_command()
    print("FAILED: %d" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
