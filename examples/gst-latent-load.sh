#!/bin/sh
# Decodes a latent file written by gst-latent-save.sh into PNG frames
# (OUTDIR/frame-00000.png ...).
#
#   gst-latent-load.sh MODEL IN.lat OUTDIR [SEED]
#
# The caps come from IN.lat.caps; they give the record size for filesrc's blocksize (so
# that each read is one latent) and the model-id, which diffaedecode checks against MODEL.
# A file without x_T decodes from noise of SEED (default 0), the same x_T for every frame
# (noise=fixed); NOISE=per-frame draws a new one per frame. A file with x_T decodes from it.
# The records carry no timestamps: frames are numbered by their position in the file.
# STEPS (default 20): DDIM steps of the decoder.
set -eu
if [ $# -lt 3 ]; then
  echo "usage: $0 MODEL IN.lat OUTDIR [SEED]" >&2
  exit 2
fi
model=$1
in=$2
out=$3
seed=${4:-0}
caps=$(cat "$in.caps")
field () {
  printf '%s\n' "$caps" | sed -n "s/.*[ ,]$1=([a-z]*)\([^,;]*\).*/\1/p"
}
z=$(field z-channels)
has_xt=$(field has-xt)
record=$((z * 4))
noise=${NOISE:-fixed}
if [ "$has_xt" = true ]; then
  record=$((record + $(field xt-channels) * $(field xt-height) * $(field xt-width) * 4))
  noise=from-stream
fi
mkdir -p "$out"
exec gst-launch-1.0 -q filesrc location="$in" blocksize="$record" ! "$caps" \
  ! diffaedecode model="$model" noise="$noise" seed="$seed" steps="${STEPS:-20}" \
  ! videoconvert ! pngenc ! multifilesink location="$out/frame-%05d.png"
