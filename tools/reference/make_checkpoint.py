#!/usr/bin/python3
"""Write a checkpoint in the published PyTorch Lightning layout, for converter tests.

    make_checkpoint.py --config NAME --seed S -o X.ckpt [--random-all]

state_dict holds `ema_model.*` (the reference model: published init, or every tensor randomised
with --random-all), `model.*` (the same plus noise, so a converter that picks the non-EMA copy is
caught), an `x_T` buffer to be ignored and, when the config has a latent net, `conds_mean` and
`conds_std` of shape [1, z]. The latent net's linear_emb appears twice (also as cond_layers.1).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import diffae_ref as R  # noqa: E402


def checkpoint_from_model(model: R.DiffAE, seed: int) -> dict:
    """Published checkpoint dict for `model` as the EMA weights."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed + 7919)
    raw = copy.deepcopy(model)
    with torch.no_grad():
        for _, p in raw.named_parameters():  # shared linear_emb perturbed once: copies stay equal
            p.add_(0.01 * torch.randn(p.shape, generator=g) + 0.01)
    sd = {}
    sd.update({"model." + k: v.clone() for k, v in raw.state_dict().items()})
    sd.update({"ema_model." + k: v.clone() for k, v in model.state_dict().items()})
    sd["x_T"] = torch.randn(4, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g)
    if cfg.latent_net is not None:
        sd["conds_mean"] = 0.5 * torch.randn(1, cfg.z_channels, generator=g)
        sd["conds_std"] = 0.5 + torch.rand(1, cfg.z_channels, generator=g)
    return {"epoch": 1, "global_step": 1000, "pytorch-lightning_version": "1.4.5",
            "state_dict": sd}


def make_checkpoint(cfg: R.Config, seed: int, random_all: bool = False) -> dict:
    return checkpoint_from_model(R.build_model(cfg, seed, random_all), seed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help=f"preset ({', '.join(R.PRESETS)}) or .json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random-all", action="store_true",
                    help="randomise every tensor (no zero-initialised ones)")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    torch.save(make_checkpoint(R.get_config(args.config), args.seed, args.random_all),
               args.output)
    print(f"{args.output}: config {args.config}, seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
