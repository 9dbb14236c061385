#!/bin/sh
# Every benchmark of doc/performance.md on a machine with a GPU, in one command:
#
#   bench/gpu.sh [BUILD_DIR [OUT_DIR]]       (default: build, bench-gpu-<date>)
#
# Writes OUT_DIR/{devices,ops,models,pipeline,train}.md: the Vulkan devices, the gemm table
# (bench/ops.sh), whole networks with every case on Vulkan (bench/models.sh; the GPU is picked
# by `auto`, DIFFAE_DEVICE chooses another), the elements' throughput at batch 1 and 8
# (bench/pipeline.sh) and the training step (bench/train.sh), each next to PyTorch CPU and the
# CPU backend on the same machine. ROUNDS (default 3) applies to every table. Nothing here is
# specific to a GPU vendor; on a machine without one the Vulkan columns are lavapipe.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
out=${2:-bench-gpu-$(date +%Y%m%d-%H%M)}
rounds=${ROUNDS:-3}
mkdir -p "$out"
{ vulkaninfo --summary 2> /dev/null || echo "vulkaninfo: not installed"; nvidia-smi -L 2> /dev/null || true; } \
  > "$out/devices.md"
"$here/ops.sh" "$build" "$rounds" > "$out/ops.md"
VK_CASES="unet64-1 unet64-8 enc64-1 enc64-8 unet128-1 enc128-1 dec10 dec20 inv20 train" \
  "$here/models.sh" "$build" "$rounds" > "$out/models.md"
BACKENDS="vulkan cpu" BATCHES="1 8" ROUNDS=$rounds "$here/pipeline.sh" "$build" > "$out/pipeline.md"
VK_STEPS=10 "$here/train.sh" "$build" > "$out/train.md"
echo "bench/gpu.sh: tables in $out/" >&2
