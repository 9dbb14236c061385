#!/bin/sh
# Makes (or reuses) a PyTorch parity fixture, then runs test_model on it.
#   run_parity.sh PYTHON SOURCE_ROOT FIXTURE_DIR CONFIG TEST_MODEL [--grads]
# The fixture is rebuilt when a reference script is newer than it.
set -eu
python="$1"; root="$2"; dir="$3"; config="$4"; test_model="$5"; shift 5
grads=""
[ "${1:-}" = "--grads" ] && grads="--grads"
fixture="$dir/fixture.safetensors"
stale=yes
if [ -f "$fixture" ] && [ -f "$dir/model.safetensors" ]; then
  stale=$(find "$root/tools" -name '*.py' -newer "$fixture" | head -n 1)
fi
if [ -n "$stale" ]; then
  mkdir -p "$dir"
  "$python" "$root/tools/reference/make_fixture.py" --config "$config" --seed 1 \
    --outdir "$dir" $grads
fi
exec "$test_model" "$dir" $grads
