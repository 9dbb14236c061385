#!/bin/sh
# Reconstructs a video through the diffae elements: each frame is encoded into z_sem and
# the inverted noise map x_T (diffaeencode inversion-steps=STEPS), then decoded back from
# them (diffaedecode noise=from-stream steps=STEPS). The frames, scaled to the model's size,
# and their reconstructions are written as PNGs:
#   OUTDIR/input-00000.png ...   OUTDIR/output-00000.png ...
#
#   gst-reconstruct.sh MODEL OUTDIR [INPUT [STEPS]]
#
# INPUT is a video file (anything decodebin plays); without it (or with "") a test pattern:
# videotestsrc pattern=$PATTERN (default smpte), $FRAMES frames (default 30).
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 MODEL OUTDIR [INPUT [STEPS]]" >&2
  exit 2
fi
model=$1
out=$2
input=${3:-}
steps=${4:-20}
mkdir -p "$out"
if [ -n "$input" ]; then
  set -- filesrc location="$input" ! decodebin
else
  set -- videotestsrc num-buffers="${FRAMES:-30}" pattern="${PATTERN:-smpte}"
fi
# The tee sits after videoscale: both branches get frames of the model's size.
exec gst-launch-1.0 -q "$@" ! videoconvert ! videoscale ! tee name=t \
  t. ! queue ! videoconvert ! pngenc ! multifilesink location="$out/input-%05d.png" \
  t. ! queue ! diffaeencode model="$model" inversion-steps="$steps" \
     ! diffaedecode model="$model" steps="$steps" noise=from-stream \
     ! videoconvert ! pngenc ! multifilesink location="$out/output-%05d.png"
