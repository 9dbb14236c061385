#!/bin/sh
# The second run of device-demo in the same cache folder compiles no shaders: its first run
# is faster than the first run of a process with an empty cache. On lavapipe the cache that
# holds the compiled code is Mesa's (MESA_SHADER_CACHE_DIR); on GPU drivers the
# VkPipelineCache that diffae keeps in DIFFAE_CACHE_DIR also holds it.
set -eu
demo="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
first_run_ms() {
  DIFFAE_PROFILE=1 DIFFAE_CACHE_DIR="$dir" MESA_SHADER_CACHE_DIR="$dir/mesa" "$demo" \
    | sed -n 's/^first run: \([0-9.]*\) ms.*/\1/p'
}
cold=$(first_run_ms)
warm=$(first_run_ms)
echo "first run with an empty cache: $cold ms; with the cache of the previous run: $warm ms"
[ -n "$cold" ] && [ -n "$warm" ] || { echo "device-demo did not report its first run"; exit 1; }
ls "$dir"/pipelines-*.bin >/dev/null || { echo "no pipeline cache was written"; exit 1; }
awk -v c="$cold" -v w="$warm" 'BEGIN { exit !(w < c) }' || {
  echo "the cache did not make the first run faster"; exit 1; }
