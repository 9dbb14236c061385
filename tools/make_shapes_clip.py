#!/usr/bin/python3
"""A short clip of the shapes dataset's world, as PNG frames, for the demo pipeline.

    make_shapes_clip.py OUTDIR [--frames 16] [--size 32]

One object glides from left to right while its hue turns and its size breathes; the
background stays. Frames are OUTDIR/frame-00000.png ... (what multifilesrc reads).
"""

import argparse
import math
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402


def frame_factors(i, n):
    t = i / max(n - 1, 1)
    return {
        "shape": shapes.SHAPES[(i * 3) // n],
        "hue": (0.55 + 0.45 * t) % 1.0,
        "bg_hue": 0.12,
        "bg_value": 0.4,
        "size": 0.16 + 0.04 * math.sin(2 * math.pi * t),   # the dataset's 0.11-0.21
        "x": 0.36 + 0.28 * t,
        "y": 0.5,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for i in range(args.frames):
        img = shapes.render(frame_factors(i, args.frames), args.size)
        Image.fromarray(img).save(os.path.join(args.outdir, "frame-%05d.png" % i))


if __name__ == "__main__":
    main()
