#!/bin/sh
# Reads an autoencoder snapshot of a shapes run part-way through training, with the figures
# doc/shapes-history.md tracks from reading to reading: editing directions and edit success,
# which factors follow z_sem against x_T, reconstruction, and how much of each factor z_sem
# holds at all. About 25 minutes on 2 cores for the base-64 config (twice that beside a
# training run).
#
#   weights/read-shapes-snapshot.sh SNAPSHOT DATA OUT
#
# SNAPSHOT: the EMA weights of an `autoenc` run, e.g. RUN/latest.safetensors (rewritten at
# every preview: copy it first if the run goes on). DATA: the dataset folder
# tools/make_shapes_dataset.py wrote (train/, test/, train.csv, test.csv). OUT: a new folder;
# each step writes its own file there and is skipped when that file exists, so an interrupted
# reading resumes. Environment: CONFIG (the run's config, with its latent_net; default
# config.json beside SNAPSHOT, as `autoenc` writes it), BUILD_DIR (build), THREADS (2), IMAGES
# (32: held-out images edited, and pairs swapped), STEPS (50: DDIM steps of the edits and the
# swaps), EVAL_IMAGES (64) and EVAL_STEPS (50,100) of the reconstruction.
set -eu
[ $# -eq 3 ] || { echo "usage: weights/read-shapes-snapshot.sh SNAPSHOT DATA OUT" >&2; exit 2; }
snapshot=$1 data=$2 out=$3
root=$(cd "$(dirname "$0")/.." && pwd)
train="${BUILD_DIR:-$root/build}/trainer/diffae-train"
py=/usr/bin/python3
images=${IMAGES:-32} steps=${STEPS:-50} threads=${THREADS:-2}
config=${CONFIG:-$(dirname "$snapshot")/config.json}
export DIFFAE_BACKEND=cpu OMP_NUM_THREADS="$threads"
for f in "$snapshot" "$config" "$data/train.csv" "$data/test.csv" "$train"; do
  [ -e "$f" ] || { echo "read-shapes-snapshot.sh: $f not found" >&2; exit 1; }
done
mkdir -p "$out"
d="--data $data/train --test $data/test"
step () { echo "== $1 ($(date +%H:%M:%S))"; }

# 1. z_sem statistics: one latent step computes them over the training images (the editing
#    directions live on the normalised z_sem); the latent net itself is not needed to edit.
if [ ! -f "$out/latent/model.safetensors" ]; then
  step "z_sem statistics"
  "$train" latent --model "$snapshot" --config "$config" $d --out "$out/latent" --steps 1 \
      --batch 256 --sample-every 0 > "$out/latent.log"
fi

# 2. one direction per attribute; the log holds each classifier's held-out accuracy
if [ ! -f "$out/directions.safetensors" ]; then
  step "directions"
  "$train" classify --model "$out/latent/model.safetensors" $d --labels "$data/train.csv" \
      --test-labels "$data/test.csv" --out "$out/directions.safetensors" > "$out/classify.log"
fi

# 3. edits at strength 1 both ways, measured from the pixels by the generator
if [ ! -f "$out/edit-success.json" ]; then
  step "edits"
  "$train" edit --model "$out/directions.safetensors" $d --images "$images" --strengths 1 \
      --ddim-steps "$steps" --out "$out/edit" > "$out/edit.log"
  "$py" "$root/tools/edit_success.py" "$out/edit" --grid "$out/edit-grid.png" \
      --json "$out/edit-success.json"
fi

# 4. which factors the decoder takes from z_sem when the inverted x_T says otherwise
if [ ! -f "$out/swap.json" ]; then
  step "swaps"
  "$py" "$root/tools/swap_factors.py" "$snapshot" "$data" --pairs "$images" --steps "$steps" \
      --threads "$threads" --grid "$out/swap-grid.png" --json "$out/swap.json"
fi

# 5. reconstruction from the inverted x_T and from z_sem alone (without --labels: no probes)
if [ ! -f "$out/eval/report.json" ]; then
  step "reconstruction"
  "$train" eval --model "$snapshot" $d --steps-list "${EVAL_STEPS:-50,100}" \
      --images "${EVAL_IMAGES:-64}" --out "$out/eval" > "$out/eval.log"
fi

# 6. how much of each factor z_sem holds at all (k-NN and MLP, next to the pixels)
if [ ! -f "$out/probe.json" ]; then
  step "probes"
  "$py" "$root/tools/probe_factors.py" "$snapshot" "$data" --train 5000 --test 2000 \
      --threads "$threads" --json "$out/probe.json"
fi
step "done: $out"
cat "$out/classify.log" "$out/eval.log" | grep -v '^wrote'
