#!/usr/bin/python3
"""Self-test of tools/factor_sensitivity.py on small generated shapes sets (16x16, generator
versions 2 and 4) and a random model of the `small` reference config.

Checks: every factor has a row, the aspect only where it varies within a shape (version 4);
each moved factor, measured from the moved image's pixels, moved by about its step (a tool
that rendered the unmoved factors again would fail here); the moves stay inside the
generator's ranges; z_sem distances are positive and finite; a model of another image size, and
a folder without test_factors.csv, are refused with a clear message. Exit status 0 on success.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import factor_sensitivity as fs  # noqa: E402
import shapes  # noqa: E402
from test_probe_factors import (PY, check, check_other_size_refused, failures,  # noqa: E402
                                run_tool, write_model)

IMAGES = 24
# pixel measurement at 16x16 reads a move to within this share of its step
MEASURE_TOLERANCE = 0.25


def make_set(tmp, version):
    data = os.path.join(tmp, "v%d" % version)
    subprocess.run([PY, os.path.join(HERE, "make_shapes_dataset.py"), data, "--size", "16",
                    "--train", "8", "--test", str(IMAGES), "--jobs", "1", "--version",
                    str(version)], check=True, stdout=subprocess.DEVNULL)
    return data


def sensitivity(model, data, *extra):
    return run_tool("factor_sensitivity.py", model, data, "--images", str(IMAGES),
                    "--threads", "1", *extra)


def check_moves_stay_in_range(data):
    """Every move lands inside the generator's range of that factor."""
    ranges = {"x": shapes.POS_RANGE, "y": shapes.POS_RANGE, "size": shapes.SIZE_RANGE,
              "aspect": shapes.ASPECT_RANGE, "bg_value": shapes.BG_VALUE_RANGE,
              "hue": (0.0, 1.0)}
    factors = fs.read_factors(data, IMAGES)
    inside = all(ranges[n][0] <= fs.moved(f, n)[n] <= ranges[n][1]
                 for f in factors for n in fs.moved_factors(factors))
    check(inside, "%s: every move stays inside its factor's range" % os.path.basename(data))


def check_table(data, model, tmp, version):
    out = os.path.join(tmp, "v%d.json" % version)
    r = sensitivity(model, data, "--json", out)
    check(r.returncode == 0, "v%d: runs (%s)" % (version, r.stderr.strip()[-200:]))
    if r.returncode != 0:
        return
    with open(out) as f:
        moves = json.load(f)["moves"]
    expected = [n for n in fs.MOVES if n != "aspect" or version == 4] + ["two images"]
    check(list(moves) == expected, "v%d: rows %s" % (version, ", ".join(moves)))
    for name in expected[:-1]:
        step, got = moves[name]["step"], moves[name]["measured_move"]
        check(abs(got - step) <= MEASURE_TOLERANCE * step,
              "v%d: %s measured to move %.3f for a step of %g" % (version, name, got, step))
    distances = [row["z_sem_distance"] for row in moves.values()]
    check(all(0.0 < d < float("inf") for d in distances),
          "v%d: z_sem distances positive and finite" % version)
    check(("| two images |" in r.stdout), "v%d: the table is printed" % version)


def main():
    tmp = tempfile.mkdtemp()
    try:
        model = os.path.join(tmp, "small.safetensors")
        write_model(model, "small", 5)
        for version in (2, 4):
            data = make_set(tmp, version)
            check_moves_stay_in_range(data)
            check_table(data, model, tmp, version)
        check_other_size_refused(sensitivity, tmp, data, 6)
        r = sensitivity(model, tmp)
        check(r.returncode != 0 and "test_factors.csv" in r.stderr
              and "Traceback" not in r.stderr, "a folder without factors is refused clearly")
    finally:
        shutil.rmtree(tmp)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
