#!/bin/sh
# diffae-image on the tiny test model: reconstruct, edit, interpolate; check the PNGs.
set -eu
tool="$1"; model="$2"; python="$3"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$python" - "$dir" <<'PY'
import sys
from PIL import Image
d = sys.argv[1]
for name, (a, b) in {"a": ((200, 40, 40), (40, 40, 200)), "b": ((30, 160, 60), (220, 220, 30))}.items():
    img = Image.new("RGB", (16, 16))
    for x in range(16):
        t = x / 15
        c = tuple(int((1 - t) * a[i] + t * b[i]) for i in range(3))
        for y in range(16):
            img.putpixel((x, y), c)
    img.save(f"{d}/{name}.png")
PY
export DIFFAE_BACKEND=cpu
"$tool" "$model" "$dir/a.png" -o "$dir/rec.png" --steps 20
"$tool" "$model" "$dir/a.png" -o "$dir/edit.png" --steps 20 --edit bright=2 --edit round=-2
"$tool" "$model" "$dir/a.png" --interpolate "$dir/b.png" --frames 4 -o "$dir/morph.png" --steps 20
if "$tool" "$model" "$dir/a.png" -o "$dir/x.png" --edit nosuch=1 2>"$dir/err"; then
  echo "an unknown attribute was accepted"; exit 1
fi
grep -q "bright" "$dir/err"
"$python" - "$dir" <<'PY'
import sys
from PIL import Image
d = sys.argv[1]
def px(p): return list(Image.open(p).convert("RGB").getdata())
a, rec, edit = px(f"{d}/a.png"), px(f"{d}/rec.png"), px(f"{d}/edit.png")
mse = lambda u, v: sum((x - y) ** 2 for p, q in zip(u, v) for x, y in zip(p, q)) / (3 * len(u))
print(f"reconstruction MSE {mse(a, rec):.1f}, edit moved the image by MSE {mse(rec, edit):.1f} (8-bit units)")
assert mse(a, rec) < 400, "the reconstruction is far from the input"
assert mse(rec, edit) > 0.5, "the edit changed nothing"
morph = Image.open(f"{d}/morph.png")
assert morph.size == (64, 16), morph.size
PY
