#!/bin/sh
# Saves the z_sem-only latents of a video to a file, to decode later with
# gst-latent-load.sh (doc/latent-format.md, "Latent files").
#
#   gst-latent-save.sh MODEL OUT.lat [INPUT]
#
# Framing without a muxer: filesink writes each latent buffer as one fixed-size record
# (z-channels float32 values; x_T follows when inversion-steps > 0), and the caps of the
# stream (the record layout, the model-id, the framerate) go to OUT.lat.caps, one line, as
# gst-launch-1.0 -v prints them. gdppay/gdpdepay would keep caps and timestamps in the file
# itself, but they are in gst-plugins-bad, which is not installed here.
#
# INPUT is a video file (anything decodebin plays); without it a test pattern
# (videotestsrc pattern=$PATTERN, default smpte, $FRAMES frames, default 30).
# INVERSION_STEPS (default 0) > 0 also stores x_T.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 MODEL OUT.lat [INPUT]" >&2
  exit 2
fi
model=$1
out=$2
input=${3:-}
if [ -n "$input" ]; then
  set -- filesrc location="$input" ! decodebin
else
  set -- videotestsrc num-buffers="${FRAMES:-30}" pattern="${PATTERN:-smpte}"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! gst-launch-1.0 -v "$@" ! videoconvert ! videoscale \
    ! diffaeencode model="$model" inversion-steps="${INVERSION_STEPS:-0}" \
    ! filesink name=latents location="$out" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
# The last caps set on the file sink's pad.
sed -n 's/^.*GstFileSink:latents\.GstPad:sink: caps = //p' "$log" | tail -n 1 >"$out.caps"
if [ ! -s "$out.caps" ]; then
  echo "$0: no latent caps in the gst-launch-1.0 -v output" >&2
  exit 1
fi
