#!/usr/bin/python3
"""Where does a model's reconstruction from inverted x_T lose the image?

    inversion_drift.py MODEL DATA [--images 16] [--steps 100] [--threads 2] [--json OUT.json]

DATA is a PNG dataset with DATA/test.csv (a `file` column), as tools/make_shapes_dataset.py
writes it; the first --images held-out images are used. With MODEL in the PyTorch reference
(tools/reference) and N = --steps, it reports:

  reconstruction   invert N steps, decode N steps (as `diffae-train eval`): MSE on the [0, 1]
                   scale, split into the part that is a uniform shift of each image's channel
                   (its mean error) and the rest; the two add up to the total
  from x_(t_N-1)   the same decode started from the inversion's state at its last kept step
                   instead of x_T. DESIGN.md section 3 ends the inversion at abar = 0, so x_T
                   is the last predicted noise without the sqrt(abar) x0 that x_(t_N-1) holds;
                   the difference between the two rows is what that costs this model
  offset tracking  how much of a uniform offset d added to x the predicted noise follows at
                   the top kept step, mean(eps(x + d) - eps(x)) / d for random x and the images'
                   z_sem. x0 is predicted as (x - sqrt(1 - abar) eps) / sqrt(abar), so whatever
                   part of d eps does not follow becomes a change of the image's mean of
                   d / sqrt(abar) (144 d at t = 990). A model that takes the image's
                   colour from z_sem follows nearly all of it (about 1); a model that follows
                   none takes its colour from x_T's mean.
"""

import argparse
import json
import math
import os
import sys

import torch

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import diffae_ref as ref  # noqa: E402
from probe_factors import check_image_size, load_model, read_split  # noqa: E402

OFFSET = 0.01


def mse_split(out, x0):
    """(total MSE, of which the per-(image, channel) mean shift) on the [0, 1] scale."""
    err = (out - x0) / 2
    shift = err.mean(dim=(2, 3))
    return err.pow(2).mean().item(), shift.pow(2).mean().item()


def offset_tracking(ddim, eps_fn, shape):
    """mean(eps(x + OFFSET) - eps(x)) / OFFSET at the top kept step, x ~ N(0, 1) seeded."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen)
    t = ref._t(ddim.steps[-1], shape[0])
    with torch.no_grad():
        return ((eps_fn(x + OFFSET, t) - eps_fn(x, t)).mean() / OFFSET).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--images", type=int, default=16, help="held-out images used (first N)")
    ap.add_argument("--steps", type=int, default=100, help="DDIM steps, both ways")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.images < 1:
        raise SystemExit("--images must be at least 1")

    model, cfg = load_model(args.model)
    images, _, _ = read_split(args.data, "test", args.images)
    check_image_size(images, cfg)
    try:
        ddim = ref.DDIM(ref.linear_betas(), args.steps)
    except ValueError as e:
        raise SystemExit(str(e))
    x0 = torch.from_numpy(images)
    with torch.no_grad():
        z = model.encode(x0)
    eps_fn = lambda x, t: model.eps(x, t, z)  # noqa: E731

    # The inversion in two parts: up to the last kept step, then its final move to abar = 0.
    top = len(ddim.steps) - 1
    x_last = ddim.invert(eps_fn, x0, stop=top)
    x_T = ddim.invert(eps_fn, x_last, start=top)
    recon = mse_split(ddim.sample(eps_fn, x_T), x0)
    from_last = mse_split(ddim.sample(eps_fn, x_last), x0)
    tracking = offset_tracking(ddim, eps_fn, tuple(x0.shape))
    top_t, top_abar = ddim.steps[-1], float(ddim.abar[-1])

    print("%d held-out images, %d DDIM steps each way; MSE on the [0, 1] scale" % (len(x0),
          args.steps))
    print("| decode from | MSE | of which mean shift | rest |")
    print("|---|---:|---:|---:|")
    for name, (total, shift) in (("x_T (as eval)", recon), ("x at t = %d" % top_t, from_last)):
        print("| %s | %.5f | %.5f | %.5f |" % (name, total, shift, total - shift))
    print("offset tracking at t = %d: %.3f (an untracked offset d moves the first x0 "
          "prediction's mean by %.0f d)" % (top_t, tracking, 1 / math.sqrt(top_abar)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "images": len(x0), "steps": args.steps,
                       "from_xT": {"mse": recon[0], "mean_shift": recon[1]},
                       "from_last_state": {"t": top_t, "mse": from_last[0],
                                           "mean_shift": from_last[1]},
                       "offset_tracking": tracking}, f, indent=1)


if __name__ == "__main__":
    main()
