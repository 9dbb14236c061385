#!/bin/sh
# The shipped Fashion-MNIST model (weights/fashion-mnist.safetensors) through diffae-image: it
# loads as a grey 32x32 model with one editing direction per class, reconstructs a drawn
# garment-like image (a white shape on black, padded like the data) closely from its inverted
# x_T, and an edit along a class direction changes the picture.
#
#   test-shipped-fashion-mnist.sh DIFFAE_IMAGE MODEL PYTHON
set -eu
tool="$1"; model="$2"; python="$3"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$python" - "$dir" <<'PY'
import sys
from PIL import Image, ImageDraw
img = Image.new("L", (32, 32), 0)
draw = ImageDraw.Draw(img)
draw.rectangle((9, 4, 14, 27), fill=200)     # two trouser legs joined at the top
draw.rectangle((17, 4, 22, 27), fill=200)
draw.rectangle((9, 4, 22, 9), fill=200)
img.save(sys.argv[1] + "/in.png")
PY
export DIFFAE_BACKEND=cpu
"$tool" "$model" "$dir/in.png" -o "$dir/rec.png" --steps 50
"$tool" "$model" "$dir/in.png" -o "$dir/edit.png" --steps 50 --edit bag=3
if "$tool" "$model" "$dir/in.png" -o "$dir/x.png" --edit nosuch=1 2> "$dir/err"; then
  echo "an unknown attribute was accepted"; exit 1
fi
for class in t_shirt_top trouser pullover dress coat sandal shirt sneaker bag ankle_boot; do
  grep -q "$class" "$dir/err" || { echo "no direction for $class:"; cat "$dir/err"; exit 1; }
done
"$python" - "$dir" <<'PY'
import sys
import numpy as np
from PIL import Image
d = sys.argv[1]
load = lambda n: np.asarray(Image.open(f"{d}/{n}.png").convert("L"), dtype=np.float64) / 255
x, rec, edit = load("in"), load("rec"), load("edit")
assert x.shape == rec.shape == edit.shape == (32, 32), (x.shape, rec.shape, edit.shape)
mse_rec, mse_edit = np.mean((x - rec) ** 2), np.mean((rec - edit) ** 2)
print(f"reconstruction MSE {mse_rec:.5f}; edit bag=3 moved it by MSE {mse_edit:.5f}")
assert mse_rec < 0.002, "the reconstruction is far from the input"
assert mse_edit > 0.001, "the edit changed nothing"
PY
