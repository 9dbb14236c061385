#!/bin/sh
# Loss falls: tiny_grey on 64 synthetic PNGs (non-square, in subfolders: the crop and resize
# path) for 300 steps; the mean loss of the last 20 steps must be below 0.7 x the first 20.
#   test_loss.sh DIFFAE_TRAIN MAKE_DATA WORKDIR
set -eu
train="$1"; make_data="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
"$make_data" png "$work/data" 64 8
DIFFAE_BACKEND=cpu "$train" autoenc --config tiny_grey --data "$work/data" --out "$work/run" \
  --steps 300 --batch 16 --lr 2e-3 --ema-decay 0.99 --log-every 1 --sample-every 150 \
  --sample-steps 5 --checkpoint-every 100 > "$work/log.txt"
awk '/^step [0-9]+\/300 /{ n++; loss[n] = $4 }
  END {
    if (n != 300) { print "expected 300 loss lines, got " n; exit 1 }
    for (i = 1; i <= 20; i++) { a += loss[i]; b += loss[n - 20 + i] }
    a /= 20; b /= 20
    printf "first 20 steps: mean loss %.5f; last 20: %.5f; ratio %.3f (must be < 0.7)\n", a, b, b / a
    exit (b < 0.7 * a) ? 0 : 1
  }' "$work/log.txt"
test -f "$work/run/model.safetensors"
test -f "$work/run/samples/step-00000300.png"
