#!/usr/bin/python3
"""Which factors does a model's decoder take from z_sem, and which from the inverted x_T?

    swap_factors.py MODEL DATA [--pairs 16] [--steps 50] [--threads 2] [--grid OUT.png]
                    [--json OUT.json]

An edit moves z_sem and decodes it with the image's own inverted x_T, so it can only change a
factor that the decoder reads from z_sem when x_T says otherwise. This asks that directly.
The first 2 * PAIRS held-out images of DATA (tools/make_shapes_dataset.py's layout) are
paired, image i with image PAIRS + i, both ways: each image's x_T is found by DDIM inversion
(--steps, with its own z_sem, as `diffae-train edit` does) and decoded with its partner's
z_sem. For every attribute of tools/shapes.py, over the swaps whose two images have different
labels, the table gives the share of outputs whose measured factor (shapes.measure_attribute,
from pixels) lies nearer the z_sem source's than the x_T source's reconstruction. A factor
near 100% follows z_sem, and an edit can move it; near 0% it follows x_T, and an edit along
any direction of z_sem leaves it where it is.

The grid (optional) shows one swap per column: the x_T source, its reconstruction, the z_sem
source, the swap.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import diffae_ref as ref  # noqa: E402
import probe_factors  # noqa: E402
import shapes  # noqa: E402


def to_uint8(x):
    """NCHW in [-1, 1] -> NHWC uint8, as diffae writes PNGs."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def nearer_z(m_z, m_recon, m_swap):
    """Per swap: the output's measure lies nearer the z_sem source's than the x_T source's
    reconstruction (a tie counts as not nearer)."""
    return np.abs(m_swap - m_z) < np.abs(m_swap - m_recon)


def swap_decodes(model, x, steps):
    """(reconstructions, swaps, index of each swap's z_sem source) of images x [2P,C,H,W]."""
    p = len(x) // 2
    partner = np.concatenate([np.arange(p, 2 * p), np.arange(p)])
    with torch.no_grad():
        z = model.encode(x)
        x_t = ref.ddim_invert(model, z, x, steps)
        recon = ref.ddim_decode(model, z, x_t, steps)
        swap = ref.ddim_decode(model, z[partner], x_t, steps)
    return recon, swap, partner


def table(labels, names, recon, swap, partner):
    """{attribute: {"swaps": n with different labels, "follows_z_sem": share}}."""
    # every factor of an image from one measurement, then each attribute's score from them
    f_recon, f_swap = [shapes.measure(im) for im in recon], [shapes.measure(im) for im in swap]
    out = {}
    for j, name in enumerate(names):
        if name not in shapes.ATTRIBUTES:
            continue
        score = lambda fs: np.array([shapes.attribute_score(name, f) for f in fs])
        m_recon, m_swap = score(f_recon), score(f_swap)
        differ = labels[:, j] != labels[partner, j]
        follows = nearer_z(m_recon[partner], m_recon, m_swap)[differ]
        out[name] = {"swaps": int(differ.sum()),
                     "follows_z_sem": float(follows.mean()) if differ.any() else None}
    return out


def write_grid(path, rows):
    """One row per image set, one column per swap, 2-pixel white gaps."""
    n, size = len(rows[0]), rows[0].shape[1]
    gap = 2
    grid = np.full((len(rows) * (size + gap), n * (size + gap), 3), 255, np.uint8)
    for r, ims in enumerate(rows):
        for c, im in enumerate(ims):
            grid[r * (size + gap):r * (size + gap) + size,
                 c * (size + gap):c * (size + gap) + size] = im
    Image.fromarray(grid).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--pairs", type=int, default=16, help="pairs of held-out images")
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps of inversion and decode")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grid", help="write the images as a PNG grid")
    ap.add_argument("--json", help="write the table here too")
    args = ap.parse_args()
    if args.pairs < 1 or args.steps < 1:
        raise SystemExit("--pairs and --steps must be at least 1")
    torch.set_num_threads(args.threads)

    model, cfg = probe_factors.load_model(args.model)
    x, labels, names = probe_factors.read_split(args.data, "test", 2 * args.pairs)
    if len(x) < 2 * args.pairs:
        raise SystemExit("%s/test.csv has %d images, --pairs %d needs %d"
                         % (args.data, len(x), args.pairs, 2 * args.pairs))
    probe_factors.check_image_size(x, cfg)
    recon, swap, partner = swap_decodes(model.eval(), torch.from_numpy(x), args.steps)
    recon, swap = to_uint8(recon), to_uint8(swap)
    result = table(labels, names, recon, swap, partner)

    print("%d swaps (%d pairs both ways), %d DDIM steps: share of swaps whose factor follows "
          "z_sem, among those whose two images differ in it" % (2 * args.pairs, args.pairs,
                                                                args.steps))
    print("| attribute | swaps that differ | follows z_sem | follows x_T |")
    print("|---|---:|---:|---:|")
    for name, row in result.items():
        share = row["follows_z_sem"]
        print("| %s | %d | %s | %s |" % (name, row["swaps"],
                                         "-" if share is None else "%.0f%%" % (100 * share),
                                         "-" if share is None else "%.0f%%" % (100 - 100 * share)))
    if args.grid:
        images = to_uint8(torch.from_numpy(x))
        write_grid(args.grid, [images, recon, images[partner], swap])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "pairs": args.pairs, "steps": args.steps,
                       "attributes": result}, f, indent=1)


if __name__ == "__main__":
    main()
