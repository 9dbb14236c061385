#!/bin/sh
# How weights/shapes.safetensors was made, start to finish (weights/shapes.md has the figures
# of the run that made the shipped file). Hours on 2 CPU cores; every phase checkpoints, and
# running this again resumes where it stopped.
#
#   weights/train-shapes.sh [WORK]        default WORK: runs/shapes32 (data in WORK/data)
#
# Environment: AE_STEPS (autoencoder steps, 20000; the shipped file: 6000, then 6500
# more continued from the 6000-step file, weights/shapes.md),
# LATENT_STEPS (20000), BUILD_DIR (build), CONFIG (weights/configs/shapes32-unet64.json, the
# shipped file's; the first-version file of doc/shapes-history.md used shapes32.json),
# GENERATOR (2: the shipped file's data; 3: the shapes turned on end; 4: turned, of any aspect;
# tools/shapes.py), ATTRIBUTES (the editing directions made: large,red,light_bg; the
# figures of doc/shapes-history.md were read with all five, large,red,round,left,light_bg).
# The CPU backend is used (its own AVX-512/AVX2 matrix kernels on x86-64; doc/compute.md).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-runs/shapes32}
build=${BUILD_DIR:-$root/build}
train="$build/trainer/diffae-train"
config=${CONFIG:-$root/weights/configs/shapes32-unet64.json}
py=/usr/bin/python3
data="$work/data"
export DIFFAE_BACKEND=cpu
mkdir -p "$work"

# 1. data: 50,000 training and 5,000 held-out 32x32 images with their attributes
[ -f "$data/test.csv" ] || "$py" "$root/tools/make_shapes_dataset.py" "$data" --size 32 \
    --version "${GENERATOR:-2}"

d="--data $data/train --test $data/test"
resume () { [ -f "$1/checkpoint.safetensors" ] && echo --resume || true; }

# 2. the autoencoder (EMA 0.999: a short run; lr 2e-4 at batch 32)
[ -f "$work/ae/model.safetensors" ] || "$train" autoenc --config "$config" \
    $d --out "$work/ae" --steps "${AE_STEPS:-20000}" --batch 32 --lr 2e-4 --ema-decay 0.999 \
    --checkpoint-every 500 --sample-every 1000 --seed 1 $(resume "$work/ae")

# 3. the latent net on the normalised z_sem of the training images
[ -f "$work/latent/model.safetensors" ] || "$train" latent --model "$work/ae/model.safetensors" \
    $d --out "$work/latent" --steps "${LATENT_STEPS:-20000}" --batch 256 --lr 1e-4 \
    --ema-decay 0.999 --sample-every 5000 --seed 1 --f16 $(resume "$work/latent")

# 4. one editing direction per attribute (logistic regression on z_sem), for the attributes
#    z_sem carries: the labels `round` and `left` stay in the data for the probes, but no
#    model here edits them (weights/shapes.md, "Attributes")
"$train" classify --model "$work/latent/model.safetensors" $d --labels "$data/train.csv" \
    --test-labels "$data/test.csv" --attributes "${ATTRIBUTES:-large,red,light_bg}" \
    --out "$work/shapes.safetensors"

# 5. figures for the model card
"$train" eval --model "$work/shapes.safetensors" $d --labels "$data/train.csv" \
    --test-labels "$data/test.csv" --out "$work/eval"
"$train" edit --model "$work/shapes.safetensors" $d --images 100 --strengths 1 \
    --ddim-steps 50 --out "$work/edit"
"$py" "$root/tools/edit_success.py" "$work/edit" --grid "$work/edit-grid.png" \
    --json "$work/edit-success.json"

# 6. ship (the latent phase exported f16 halves; classify keeps them)
echo "model: $work/shapes.safetensors; copy it to weights/ and update weights/shapes.md"
