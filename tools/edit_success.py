#!/usr/bin/python3
"""Measure attribute edits of the shapes model from pixels.

    edit_success.py EDIT_DIR [--grid GRID.png] [--grid-images 6] [--json OUT.json]

EDIT_DIR is the output of `diffae-train edit` (edits.json, recon/, ATTR/+S/, ATTR/-S/). For every
attribute the shapes generator can measure (tools/shapes.py: large, red, round, left, light_bg),
strength S and sign, an edit succeeds on an image when the generator's own measurement of the
attribute (shapes.measure_attribute, from the decoded pixels, not the classifier) moves the
intended way from the unedited reconstruction: up for +S, down for -S. Prints a table of the
share of successes and writes it as JSON; optionally a grid PNG of -S | reconstruction | +S
for a few images, one row per attribute.
"""

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

MEASURED = ("large", "red", "round", "left", "light_bg")


def load(path):
    return np.asarray(Image.open(path).convert("RGB"))


def strength_dir(strength):
    """The folder name diffae-train edit writes for a signed strength (C's %+g)."""
    return "%+g" % strength


def measure_all(edit_dir, attribute, images, folder):
    return np.array([shapes.measure_attribute(attribute, load(os.path.join(edit_dir, folder,
                                                                           name + ".png")))
                     for name in images])


def success_table(edit_dir, index):
    images = sorted(index["images"])
    rows = []
    for attribute in index["attributes"]:
        if attribute not in MEASURED:
            continue
        base = measure_all(edit_dir, attribute, images, "recon")
        for s in index["strengths"]:
            up = measure_all(edit_dir, attribute, images, os.path.join(attribute, strength_dir(s)))
            down = measure_all(edit_dir, attribute, images,
                               os.path.join(attribute, strength_dir(-s)))
            rows.append({
                "attribute": attribute, "strength": s, "images": len(images),
                "plus": float(np.mean(up > base)), "minus": float(np.mean(down < base)),
                "both": float(np.mean(np.concatenate([up > base, down < base]))),
                "mean_change_plus": float(np.mean(up - base)),
                "mean_change_minus": float(np.mean(down - base)),
            })
    return rows


def write_grid(edit_dir, index, strength, n, path):
    images = sorted(index["images"])[:n]
    attrs = [a for a in index["attributes"] if a in MEASURED]
    size = load(os.path.join(edit_dir, "recon", images[0] + ".png")).shape[0]
    gap = 2
    cols = 3 * len(images)
    grid = np.full(((size + gap) * len(attrs), (size + gap) * cols + gap * len(images), 3), 255,
                   np.uint8)
    for r, attribute in enumerate(attrs):
        for i, name in enumerate(images):
            cells = [os.path.join(attribute, strength_dir(-strength)), "recon",
                     os.path.join(attribute, strength_dir(strength))]
            for c, folder in enumerate(cells):
                x = (3 * i + c) * (size + gap) + i * gap
                y = r * (size + gap)
                grid[y:y + size, x:x + size] = load(os.path.join(edit_dir, folder, name + ".png"))
    Image.fromarray(grid).resize((grid.shape[1] * 3, grid.shape[0] * 3), Image.NEAREST).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("edit_dir")
    ap.add_argument("--json", help="write the table here (default EDIT_DIR/success.json)")
    ap.add_argument("--grid", help="write a -S | reconstruction | +S grid PNG here")
    ap.add_argument("--grid-images", type=int, default=6)
    ap.add_argument("--grid-strength", type=float, help="strength of the grid (default: largest)")
    args = ap.parse_args()
    with open(os.path.join(args.edit_dir, "edits.json")) as f:
        index = json.load(f)
    rows = success_table(args.edit_dir, index)
    print("| attribute | strength | images | +S moves up | -S moves down | both |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %s | %g | %d | %.1f%% | %.1f%% | %.1f%% |" % (
            r["attribute"], r["strength"], r["images"], 100 * r["plus"], 100 * r["minus"],
            100 * r["both"]))
    out = args.json or os.path.join(args.edit_dir, "success.json")
    with open(out, "w") as f:
        json.dump({"model_id": index["model_id"], "ddim_steps": index["ddim_steps"],
                   "rows": rows}, f, indent=2)
    if args.grid:
        write_grid(args.edit_dir, index, args.grid_strength or max(index["strengths"]),
                   args.grid_images, args.grid)


if __name__ == "__main__":
    main()
