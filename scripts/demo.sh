#!/bin/sh
# The main job: a short clip of the shapes world goes through a gst-launch-1.0 pipeline
# diffaeencode (z_sem + inverted x_T) ! diffaeedit ! diffaedecode on the shipped colour model,
# once as a reconstruction and once with an attribute edit. Writes demo-output/: the frames of
# each run and demo.png (rows: input, reconstruction, edited).
#
#   scripts/demo.sh [MODEL] [EDITS]      defaults: weights/shapes.safetensors "red=0.8"
#   environment: STEPS (DDIM steps, 50), FRAMES (16), OUT (output folder, demo-output),
#                BUILD_DIR (the build tree whose plugin runs, build)
set -eu
cd "$(dirname "$0")/.."
model=${1:-weights/shapes.safetensors}
edits=${2:-red=0.8}
steps=${STEPS:-50}
out=${OUT:-demo-output}
rm -rf "$out"
mkdir -p "$out/input" "$out/recon" "$out/edit"
export GST_PLUGIN_PATH="${BUILD_DIR:-$PWD/build}/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
/usr/bin/python3 tools/make_shapes_clip.py "$out/input" --frames "${FRAMES:-16}"

run () {
  # $1: folder, $2: the diffaeedit edits ("" reconstructs)
  gst-launch-1.0 -q multifilesrc location="$out/input/frame-%05d.png" \
      caps="image/png,framerate=8/1" \
    ! pngdec ! videoconvert ! videoscale ! diffaeencode model="$model" inversion-steps="$steps" \
    ! diffaeedit model="$model" ${2:+edits="$2"} \
    ! diffaedecode model="$model" steps="$steps" noise=from-stream \
    ! videoconvert ! pngenc ! multifilesink location="$out/$1/frame-%05d.png"
}
run recon ""
run edit "$edits"
/usr/bin/python3 - "$out" "$edits" <<'PY'
import os, sys
from PIL import Image
out, edits = sys.argv[1], sys.argv[2]
rows = ["input", "recon", "edit"]
names = sorted(os.listdir(os.path.join(out, "input")))
size = Image.open(os.path.join(out, "input", names[0])).size[0]
sheet = Image.new("RGB", (len(names) * (size + 2), len(rows) * (size + 2)), "white")
for r, row in enumerate(rows):
    for c, name in enumerate(names):
        sheet.paste(Image.open(os.path.join(out, row, name)).convert("RGB"),
                    (c * (size + 2), r * (size + 2)))
sheet = sheet.resize((sheet.width * 4, sheet.height * 4), Image.NEAREST)
sheet.save(os.path.join(out, "demo.png"))
print("wrote %s/demo.png: rows input, reconstruction, edited (%s); %d frames" % (out, edits, len(names)))
PY
