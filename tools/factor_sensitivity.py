#!/usr/bin/python3
"""How far does a model's z_sem move when one factor of the image moves?

    factor_sensitivity.py MODEL DATA [--images 200] [--threads 2] [--json OUT.json]

probe_factors.py asks whether z_sem holds a factor; this asks how strongly. The first IMAGES
held-out rows of DATA/test_factors.csv (tools/make_shapes_dataset.py's layout) are drawn again
from their factors with tools/shapes.py, and once more with one factor moved by a fixed step
towards the middle of its range (so the moved image is one the generator could have made):
the object's x or y by 0.1 of the side, its size by 0.03, its width / height by 0.3 (only
where a shape's aspect varies, generator version 4), its hue by 0.05 and the background's
value by 0.05. Each pair is encoded with MODEL's encoder (PyTorch reference) and the table
gives the mean distance between the two z_sem, in units of each z_sem dimension's standard
deviation over the drawn images, beside the mean distance between two different images of
the set for scale. The moved factor is measured from the moved image's pixels too
(shapes.measure), so a move that did not happen would show.

An encoder made of convolutions and attention without positional encoding, ending in a
global average pool (the published one, DESIGN.md section 2), cannot see where an object is
except through the zero padding at the frame's borders; this measures how much it learnt.
"""

import argparse
import csv
import json
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
import probe_factors  # noqa: E402
import shapes  # noqa: E402

# factor -> (step, the middle of its range the step goes towards, measured key)
MOVES = {
    "x": (0.1, 0.5, "x"),
    "y": (0.1, 0.5, "y"),
    "size": (0.03, sum(shapes.SIZE_RANGE) / 2.0, "size"),
    "aspect": (0.3, sum(shapes.ASPECT_RANGE) / 2.0, "elongation"),
    "hue": (0.05, None, "hue"),
    "bg_value": (0.05, sum(shapes.BG_VALUE_RANGE) / 2.0, "bg_value"),
}


def read_factors(data, limit):
    """Factors dicts of the first `limit` held-out images (numbers as floats, turn as int)."""
    path = "%s/test_factors.csv" % data
    try:
        with open(path) as f:
            rows = list(csv.DictReader(f))[:limit]
    except OSError as e:
        raise SystemExit("%s: %s (a set as tools/make_shapes_dataset.py writes it)"
                         % (path, e.strerror))
    out = []
    for r in rows:
        f = {k: (v if k in ("file", "shape") else float(v)) for k, v in r.items()}
        if "turn" in f:
            f["turn"] = int(f["turn"])
        out.append(f)
    return out


def aspects_vary(factors):
    """Whether a shape comes in more than one width / height (version 4; in versions 2 and 3
    each shape has its nominal one, and moving it would leave the data)."""
    shapes_seen = {f["shape"] for f in factors}
    return len({(f["shape"], f.get("aspect")) for f in factors}) > len(shapes_seen)


def moved_factors(factors):
    """The factors this data lets the tool move, in MOVES order."""
    return [n for n in MOVES if n != "aspect" or aspects_vary(factors)]


def moved(factors, name):
    """A copy of a factors dict with `name` moved by its step towards its middle."""
    step, middle, _ = MOVES[name]
    f = dict(factors)
    if middle is None:                        # hue: circular, any direction will do
        f[name] = (f[name] + step) % 1.0
    else:
        f[name] += step if f[name] <= middle else -step
    return f


def measured_move(name, before, after):
    """|change| of the moved factor as measured from the two images' pixels."""
    key = MOVES[name][2]
    a, b = shapes.measure(before)[key], shapes.measure(after)[key]
    return shapes.hue_distance(a, b) if key == "hue" else abs(b - a)


def sensitivity(model, cfg, factors):
    """{factor or 'two images': {images, measured move, z_sem distance}}."""
    side = cfg.image_size
    base = [shapes.render(f, side) for f in factors]
    x0 = probe_factors.to_model_input(base)
    probe_factors.check_image_size(x0, cfg)
    z0 = probe_factors.encode(model, x0)
    scale = z0.std(axis=0) + 1e-8
    result = {}
    for name in moved_factors(factors):
        images = [shapes.render(moved(f, name), side) for f in factors]
        z = probe_factors.encode(model, probe_factors.to_model_input(images))
        result[name] = {
            "step": MOVES[name][0],
            "images": len(factors),
            "measured_move": float(np.mean([measured_move(name, a, b)
                                            for a, b in zip(base, images)])),
            "z_sem_distance": float(np.linalg.norm((z - z0) / scale, axis=1).mean()),
        }
    partner = np.roll(np.arange(len(factors)), 1)
    result["two images"] = {"step": None, "images": len(factors), "measured_move": None,
                            "z_sem_distance": float(np.linalg.norm(
                                (z0 - z0[partner]) / scale, axis=1).mean())}
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--images", type=int, default=200, help="held-out images used (first N)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the table here too")
    args = ap.parse_args()
    if args.images < 2:
        raise SystemExit("--images must be at least 2")
    torch.set_num_threads(args.threads)
    model, cfg = probe_factors.load_model(args.model)
    factors = read_factors(args.data, args.images)
    if len(factors) < 2:
        raise SystemExit("%s/test_factors.csv has fewer than 2 images" % args.data)
    result = sensitivity(model.eval(), cfg, factors)

    print("z_sem distance (per-dimension standard deviations) when one factor moves, %d "
          "held-out images" % len(factors))
    print("| moved | step | measured move | z_sem distance | of two images' distance |")
    print("|---|---:|---:|---:|---:|")
    scale = result["two images"]["z_sem_distance"]
    for name, row in result.items():
        step = "-" if row["step"] is None else "%g" % row["step"]
        meas = "-" if row["measured_move"] is None else "%.3f" % row["measured_move"]
        print("| %s | %s | %s | %.2f | %.3f |" % (name, step, meas, row["z_sem_distance"],
                                                 row["z_sem_distance"] / scale))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "images": len(factors), "moves": result}, f,
                      indent=1)


if __name__ == "__main__":
    main()
