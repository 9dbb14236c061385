#!/usr/bin/python3
"""Self-test of tools/swap_factors.py.

Checks the counting on hand-made measures (nearer_z, and table() on images whose factors are
known, standing in for decodes that follow z_sem for one attribute and x_T for the others),
then one run end to end on a small generated shapes set (16x16) and a random model of the
`small` reference config: the table has every attribute, each count of differing swaps equals
the held-out CSV's, the grid has one column per swap; too few images and a model of another
image size are refused with a clear message. Exit status 0 on success.
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
from PIL import Image

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import shapes  # noqa: E402
import swap_factors  # noqa: E402
from test_probe_factors import (check, check_other_size_refused, failures,  # noqa: E402
                                run_tool, small_set)


def check_counting():
    check(list(swap_factors.nearer_z(np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 0.0]),
                                     np.array([0.9, 0.1, 0.5]))) == [True, False, False],
          "nearer_z: nearer z_sem counts, nearer x_T and ties do not")
    # Four images: red/not red crossed with left/right. The "swaps" take the colour of the
    # partner (z_sem) and keep their own position (x_T).
    rng = np.random.default_rng(0)
    factors = []
    for red, x in ((True, 0.35), (False, 0.35), (False, 0.65), (True, 0.65)):
        f = shapes.sample_factors(rng)
        f.update(shape="circle", aspect=1.0, turn=0, size=0.18, x=x, y=0.5, hue=0.0 if red else 0.5)
        factors.append(f)
    partner = np.array([2, 3, 0, 1])
    swapped = [dict(f, hue=factors[p]["hue"], bg_hue=factors[p]["bg_hue"],
                    bg_value=factors[p]["bg_value"], size=factors[p]["size"])
               for f, p in zip(factors, partner)]
    render = lambda fs: np.stack([shapes.render(f, 32) for f in fs])
    names = list(shapes.ATTRIBUTES)
    labels = np.array([[shapes.attributes(f)[n] for n in names] for f in factors])
    t = swap_factors.table(labels, names, render(factors), render(swapped), partner)
    check(t["red"] == {"swaps": 4, "follows_z_sem": 1.0}, "a factor taken from z_sem: 100%")
    check(t["left"] == {"swaps": 4, "follows_z_sem": 0.0}, "a factor kept from x_T: 0%")
    check(t["round"] == {"swaps": 0, "follows_z_sem": None}, "no differing pair: no share")


def run(model, data, *extra):
    return run_tool("swap_factors.py", model, data, "--steps", "3", "--threads", "1", *extra)


def check_end_to_end():
    tmp = tempfile.mkdtemp()
    try:
        data, model = small_set(tmp, 8, 12, 3)
        out, grid = os.path.join(tmp, "out.json"), os.path.join(tmp, "grid.png")
        r = run(model, data, "--pairs", "6", "--json", out, "--grid", grid)
        print(r.stdout + r.stderr)
        check(r.returncode == 0, "swap_factors runs (exit %d)" % r.returncode)
        if r.returncode == 0:
            attrs = json.load(open(out))["attributes"]
            labels = np.loadtxt(os.path.join(data, "test.csv"), delimiter=",", skiprows=1,
                                usecols=range(1, len(shapes.ATTRIBUTES) + 1))[:12]
            names = open(os.path.join(data, "test.csv")).readline().strip().split(",")[1:]
            check(set(attrs) == set(shapes.ATTRIBUTES), "every attribute in the table")
            differ = {n: int(2 * (labels[:6, j] != labels[6:, j]).sum())
                      for j, n in enumerate(names)}
            check(all(attrs[n]["swaps"] == differ[n] for n in names),
                  "differing swaps counted from the labels")
            check(Image.open(grid).size == (12 * 18, 4 * 18), "grid: 12 swaps x 4 rows")
        r = run(model, data, "--pairs", "7")
        check(r.returncode != 0 and "needs 14" in r.stderr, "too few held-out images refused")
        check_other_size_refused(run, tmp, data, 4, "--pairs", "2")
    finally:
        shutil.rmtree(tmp)


def main():
    check_counting()
    check_end_to_end()
    print("FAILED: %d" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
