#!/bin/sh
# The README's main job on the shipped colour model: scripts/demo.sh on a short clip. Every
# reconstructed frame must match its input, and the "red" edit must make the object redder
# in most frames, as the shapes generator's own measurement sees it in the decoded pixels.
#
#   test-demo.sh SOURCE_ROOT BUILD_DIR
set -eu
root=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OUT="$tmp" FRAMES=6 STEPS=50 BUILD_DIR="$build" sh "$root/scripts/demo.sh" "$root/weights/shapes.safetensors" "red=1"
/usr/bin/python3 - "$root/tools" "$tmp" <<'PY'
import os, sys
import numpy as np
from PIL import Image
sys.path.insert(0, sys.argv[1])
import shapes
out = sys.argv[2]
names = sorted(os.listdir(os.path.join(out, "input")))
load = lambda row, n: np.asarray(Image.open(os.path.join(out, row, n)).convert("RGB"))
redder = 0
for n in names:
    x, rec, ed = (load(r, n) for r in ("input", "recon", "edit"))
    mse = float(np.mean(((x / 255.0) - (rec / 255.0)) ** 2))
    r0, r1 = shapes.measure_attribute("red", rec), shapes.measure_attribute("red", ed)
    print("%s: reconstruction MSE %.5f, red %.3f -> %.3f" % (n, mse, r0, r1))
    assert mse < 0.01, "%s: reconstruction MSE %.5f" % (n, mse)
    redder += r1 > r0
assert redder >= len(names) - 1, "only %d of %d frames redder after red=1" % (redder, len(names))
print("ok: %d frames reconstructed, %d redder" % (len(names), redder))
PY
