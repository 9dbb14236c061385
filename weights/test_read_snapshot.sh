#!/bin/sh
# weights/read-shapes-snapshot.sh end to end on a tiny run: 16x16 shapes, the `small` preset
# trained for 20 steps, every check at a few DDIM steps. Each output is there and holds what
# the later readings look for; a second call finds every step done and redoes none; a missing
# snapshot and a wrong argument count are refused with a message.
#   test_read_snapshot.sh BUILD_DIR WORKDIR
set -eu
build=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
read_snapshot="$here/read-shapes-snapshot.sh"
rm -rf "$work"; mkdir -p "$work"
export DIFFAE_BACKEND=cpu BUILD_DIR="$build" IMAGES=4 STEPS=3 EVAL_IMAGES=8 EVAL_STEPS=3,5 THREADS=1
/usr/bin/python3 "$here/../tools/make_shapes_dataset.py" "$work/data" --size 16 --train 64 \
  --test 24 --jobs 1
"$build/trainer/diffae-train" autoenc --config small --data "$work/data/train" \
  --test "$work/data/test" --out "$work/ae" --steps 20 --batch 8 --sample-every 0 > /dev/null

"$read_snapshot" "$work/ae/model.safetensors" "$work/data" "$work/read" | tee "$work/first.log"
/usr/bin/python3 - "$work/read" <<'PY'
import json, os, sys
d = sys.argv[1]
attrs = {"large", "red", "round", "left", "light_bg"}
edits = json.load(open(os.path.join(d, "edit-success.json")))["rows"]
assert {r["attribute"] for r in edits} == attrs, edits
assert all(r["images"] == 4 and 0 <= r["both"] <= 1 for r in edits), edits
swap = json.load(open(os.path.join(d, "swap.json")))["attributes"]
assert set(swap) == attrs, swap
report = json.load(open(os.path.join(d, "eval", "report.json")))
assert [x["steps"] for x in report["reconstruction"]] == [3, 5], report
assert "probe" not in report, "no labels given: eval runs no probe"
probe = json.load(open(os.path.join(d, "probe.json")))
assert set(probe["accuracy"]["z_sem MLP"]) == attrs, probe
for f in ("directions.safetensors", "edit-grid.png", "swap-grid.png", "classify.log"):
    assert os.path.getsize(os.path.join(d, f)) > 0, f
print("read-shapes-snapshot: every output present and well formed")
PY
grep -q "held-out" "$work/first.log"   # the summary: classify's table

"$read_snapshot" "$work/ae/model.safetensors" "$work/data" "$work/read" > "$work/second.log"
if grep -v "^== done" "$work/second.log" | grep -q "^=="; then
  echo "FAIL: a second call redid a step:"; cat "$work/second.log"; exit 1
fi
echo "second call: every step skipped"

if "$read_snapshot" "$work/missing.safetensors" "$work/data" "$work/r2" 2> "$work/err.log"; then
  echo "FAIL: a missing snapshot was accepted"; exit 1
fi
grep -q "missing.safetensors not found" "$work/err.log"
if "$read_snapshot" "$work/ae/model.safetensors" 2> "$work/err.log"; then
  echo "FAIL: one argument was accepted"; exit 1
fi
grep -q "SNAPSHOT DATA OUT" "$work/err.log"
test ! -e "$work/r2"
echo "refusals: ok"
