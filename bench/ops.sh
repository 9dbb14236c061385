#!/bin/sh
# The gemm family's benchmark table (doc/performance.md): bench/ops (diffae's CPU backend and
# Vulkan) next to PyTorch CPU (2 threads), run alternately for ROUNDS rounds on the same
# machine; the table shows medians over the rounds and the ratio diffae / PyTorch per row.
#
#   bench/ops.sh [BUILD_DIR [ROUNDS]]
#
# Environment: ALT_ENV="VAR=value ..." adds a column of the CPU backend run under that
# environment (default: with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, when they are
# set); ALT_LABEL names it. VULKAN=0 skips the Vulkan column; VK_ALT_ENV adds a second
# Vulkan column under that environment (e.g. "DIFFAE_VK_WINOGRAD_CACHE_MB=0": the weights'
# Winograd transform made at every call), VK_ALT_LABEL names it. Extra arguments for bench/ops
# and ops_torch.py: OPS_ARGS (e.g. "--reps 3").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
rounds=${2:-3}
ops=$build/bench/ops
torch_python=/usr/bin/python3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export DIFFAE_QUIET=1

alt_env=${ALT_ENV-}
alt_label=${ALT_LABEL-}
if [ -z "$alt_env" ] && { [ -n "${OPENBLAS_CORETYPE-}" ] || [ -n "${OPENBLAS_L2_SIZE-}" ]; }; then
  alt_env="-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
  alt_label="cpu, no OPENBLAS_CORETYPE/L2_SIZE"
fi

echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores" > "$out/info"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-(unset)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY-(unset)}" >> "$out/info"
[ -n "$alt_env" ] && echo "# alt: env $alt_env" >> "$out/info"

for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  "$ops" --backend cpu ${OPS_ARGS-} > "$out/cpu.$r"
  if [ -n "$alt_env" ]; then
    # shellcheck disable=SC2086
    env $alt_env "$ops" --backend cpu ${OPS_ARGS-} > "$out/alt.$r"
  fi
  "$torch_python" "$here/ops_torch.py" ${OPS_ARGS-} > "$out/torch.$r"
  if [ "${VULKAN-1}" != 0 ]; then
    "$ops" --backend vulkan ${OPS_ARGS-} > "$out/vulkan.$r"
    if [ -n "${VK_ALT_ENV-}" ]; then
      # shellcheck disable=SC2086
      env $VK_ALT_ENV "$ops" --backend vulkan ${OPS_ARGS-} > "$out/vkalt.$r"
    fi
  fi
done
python3 "$here/ops_table.py" "$out" "${alt_label:-cpu, $alt_env}" \
    "${VK_ALT_LABEL:-vulkan, ${VK_ALT_ENV-}}"
