#!/usr/bin/python3
"""Self-test of tools/probe_factors.py on a small generated shapes set (16x16) and a random
model of the `small` reference config.

Checks: the table has every attribute and probe; the base rates equal the held-out CSV's; the
pixel k-NN finds `light_bg` (the background fills most of the image) well above its base rate,
so a k-NN that picked the wrong neighbours would fail; a label that is not 0/1 and a model of
another image size are refused with a clear message. Exit status 0 on success.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import diffae_ref as ref  # noqa: E402
import safetensors_io  # noqa: E402

PY = sys.executable
failures = []


def check(ok, message):
    print(("  ok    " if ok else "  FAIL  ") + message)
    if not ok:
        failures.append(message)


def write_model(path, preset, seed):
    """A randomised model file of a reference preset, in diffae's tensor names."""
    cfg = ref.get_config(preset)
    model = ref.build_model(cfg, seed=seed, random_all=True)
    tensors = {n: t.detach().numpy() for n, t in model.state_dict().items()
               if not ref.is_duplicate_name(n)}
    safetensors_io.save(path, tensors, {"diffae.format": "1", "diffae.config": cfg.to_json()})


def small_set(tmp, train, test, seed):
    """A generated 16x16 shapes set and a random `small` model in tmp: (data dir, model)."""
    data = os.path.join(tmp, "data")
    subprocess.run([PY, os.path.join(HERE, "make_shapes_dataset.py"), data, "--size", "16",
                    "--train", str(train), "--test", str(test), "--jobs", "1"], check=True,
                   stdout=subprocess.DEVNULL)
    model = os.path.join(tmp, "small.safetensors")
    write_model(model, "small", seed)
    return data, model


def check_other_size_refused(run, tmp, data, seed, *extra):
    """run(model, data, *extra) of a 1-channel model on the 3-channel set fails clearly."""
    grey = os.path.join(tmp, "grey.safetensors")
    write_model(grey, "tiny_grey", seed)
    r = run(grey, data, *extra)
    check(r.returncode != 0 and "the model takes" in r.stderr,
          "images of another size are refused")


def run_tool(script, model, data, *args):
    """tools/SCRIPT MODEL DATA ARGS..., output captured."""
    return subprocess.run([PY, os.path.join(HERE, script), model, data, *args],
                          capture_output=True, text=True)


def probe(model, data, *extra):
    return run_tool("probe_factors.py", model, data, "--train", "400", "--test", "200", "--k",
                    "5", "--threads", "1", *extra)


def main():
    tmp = tempfile.mkdtemp()
    try:
        data, model = small_set(tmp, 400, 200, 3)
        out = os.path.join(tmp, "out.json")
        r = probe(model, data, "--json", out)
        print(r.stdout + r.stderr)
        check(r.returncode == 0, "probe_factors runs (exit %d)" % r.returncode)
        if r.returncode == 0:
            table = json.load(open(out))["accuracy"]
            names = open(os.path.join(data, "test.csv")).readline().strip().split(",")[1:]
            labels = np.loadtxt(os.path.join(data, "test.csv"), delimiter=",", skiprows=1,
                                usecols=range(1, len(names) + 1))
            check(set(table) == {"z_sem k-NN", "z_sem MLP", "pixels k-NN", "base rate"},
                  "every probe in the table")
            check(all(set(v) == set(names) for v in table.values()), "every attribute")
            base = {n: max(labels[:, j].mean(), 1 - labels[:, j].mean())
                    for j, n in enumerate(names)}
            check(all(abs(table["base rate"][n] - base[n]) < 1e-9 for n in names),
                  "base rates equal the held-out CSV's")
            lift = table["pixels k-NN"]["light_bg"] - base["light_bg"]
            check(lift > 0.15, "pixel k-NN finds light_bg (%.3f above base)" % lift)
            check(all(0.0 <= a <= 1.0 for v in table.values() for a in v.values()),
                  "accuracies in [0, 1]")

        bad = os.path.join(tmp, "bad")
        shutil.copytree(data, bad)
        lines = open(os.path.join(bad, "train.csv")).read().splitlines()
        lines[1] = lines[1][:-1] + "2"
        open(os.path.join(bad, "train.csv"), "w").write("\n".join(lines) + "\n")
        r = probe(model, bad)
        check(r.returncode != 0 and "must be 0 or 1" in r.stderr, "a label of 2 is refused")

        check_other_size_refused(probe, tmp, data, 4)
    finally:
        shutil.rmtree(tmp)
    print("FAILED: %d" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
