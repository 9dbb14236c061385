#!/bin/sh
# Resume is exact: 24 steps straight equal 12 steps, a stop, and 12 resumed steps, bit for bit
# (final checkpoint and exported model compared byte for byte). 24 batches of 12 from 61
# training images cross several epochs, at and between step boundaries; previews and
# checkpoints happen in between and must not disturb anything.
#   test_resume.sh DIFFAE_TRAIN MAKE_DATA WORKDIR BACKEND
set -eu
train="$1"; make_data="$2"; work="$3"; backend="$4"
rm -rf "$work"; mkdir -p "$work"
"$make_data" idx "$work/data.idx" 64 8 1
export DIFFAE_BACKEND="$backend"
opts="--config tiny_grey --data $work/data.idx --batch 12 --lr 2e-3 --ema-decay 0.9
  --checkpoint-every 5 --sample-every 10 --sample-steps 3 --seed 7"
status=0
"$train" autoenc $opts --out "$work/straight" --steps 24 > "$work/straight.log" 2>&1 || status=$?
if [ $status -ne 0 ]; then
  cat "$work/straight.log"
  # a Vulkan run without a Vulkan device is skipped
  grep -q "Vulkan\|vulkan" "$work/straight.log" && [ "$backend" = vulkan ] && exit 77
  exit 1
fi
"$train" autoenc $opts --out "$work/split" --steps 12 > "$work/split1.log"
# the resumed run gets only --resume: the rest comes from the checkpoint and run.json
"$train" autoenc --out "$work/split" --resume --steps 24 > "$work/split2.log"
grep "resuming from .* at step 12" "$work/split2.log"
cmp "$work/straight/checkpoint.safetensors" "$work/split/checkpoint.safetensors"
cmp "$work/straight/model.safetensors" "$work/split/model.safetensors"
echo "24 straight steps == 12 + 12 resumed steps, byte for byte ($backend)"
