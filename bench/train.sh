#!/bin/sh
# Training-step throughput (images/s) of diffae-train's step on the CPU backend (its built-in
# matrix kernels, and OpenBLAS as found: DIFFAE_SGEMM=openblas), on Vulkan (lavapipe here)
# and of PyTorch CPU (2 threads) for the same configs, in one run. Prints a markdown table
# for doc/performance.md.
#
#   bench/train.sh [BUILD_DIR]        (default: build; needs /usr/bin/python3 with torch)
#
# Configs: `small` (16x16 RGB) and bench/train_fmnist32.json (32x32 grey, the size of the
# Fashion-MNIST data of tools/), batch 16. Set STEPS / VK_STEPS to change the measured steps.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bench="$build/trainer/bench-train"
steps=${STEPS:-10}
vk_steps=${VK_STEPS:-3}
python=${PYTHON:-/usr/bin/python3}
backends=$(mktemp)
trap 'rm -f "$backends"' EXIT
export DIFFAE_QUIET=1
echo "| config | batch | implementation | ms/step | images/s |"
echo "|--------|------:|----------------|--------:|---------:|"
row() {  # a JSON line on stdin -> a table row; the backend description is listed below
  "$python" -c 'import json,sys
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
print("| %s | %d | %s | %.1f | %.1f |" % (r["config"], r["batch"], sys.argv[1],
      r["ms_per_step"], r["images_per_s"]))
open(sys.argv[2], "a").write("- %s: %s\n" % (sys.argv[1], r["backend"]))' "$1" "$backends"
}
for config in small "$root/bench/train_fmnist32.json"; do
  env -u OPENBLAS_CORETYPE DIFFAE_BACKEND=cpu "$bench" "$config" 16 "$steps" | row "diffae cpu"
  DIFFAE_SGEMM=openblas DIFFAE_BACKEND=cpu "$bench" "$config" 16 "$steps" \
    | row "diffae cpu, DIFFAE_SGEMM=openblas"
  DIFFAE_BACKEND=vulkan "$bench" "$config" 16 "$vk_steps" 1 | row "diffae vulkan"
  "$python" "$root/bench/train_torch.py" "$config" 16 "$steps" | row "pytorch"
done
echo
sort -u "$backends"
