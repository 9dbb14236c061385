#!/bin/sh
# One training step on the library
# and on the PyTorch reference from the same weights, batch, timesteps, noise and flips.
#   test_parity.sh PYTHON TEST_PARITY WORKDIR BACKEND CONFIG [OPTIONS for both sides]
# Exit 77 (skip) without PyTorch or, for BACKEND vulkan, without a Vulkan device.
set -eu
python="$1"; test_parity="$2"; work="$3"; backend="$4"; config="$5"; shift 5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"; mkdir -p "$work"
"$python" "$here/parity_ref.py" init --config "$config" --dropout0 --seed 3 --batch 4 \
  --steps 1 "$work/model.safetensors" "$work/inputs.safetensors"
DIFFAE_BACKEND="$backend" "$test_parity" "$@" "$work/model.safetensors" \
  "$work/inputs.safetensors" "$work/checkpoint.safetensors" "$work/losses.txt"
exec "$python" "$here/parity_ref.py" check "$@" "$work/model.safetensors" \
  "$work/inputs.safetensors" "$work/checkpoint.safetensors" "$work/losses.txt"
