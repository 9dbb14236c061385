#!/bin/sh
# Bad data gives a clear error naming the file: an unreadable PNG, an IDX file shorter than its
# header, IDX images of the wrong size, an empty folder, a missing path, a bad config, a labels
# file with a bad value, probe settings out of range, unknown or repeated --attributes. Each
# must fail with exit status 1 and a message naming the culprit.
#   test_errors.sh DIFFAE_TRAIN MAKE_DATA WORKDIR
set -eu
train="$1"; make_data="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work/empty/sub"
export DIFFAE_BACKEND=cpu
"$make_data" bad-png "$work/badpng"
"$make_data" bad-idx "$work/short.idx" 8
"$make_data" idx "$work/big.idx" 4 16 1
"$make_data" idx "$work/ok.idx" 20 8 1 "$work/ok"
printf '{"name": "x", "image_size": 8}\n' > "$work/bad.json"
printf 'index,bright\n0,1\n1,2\n' > "$work/bad.csv"

expect() {  # expect PATTERN -- COMMAND...: fails with status 1, stderr matches PATTERN
  pattern="$1"; shift 2
  status=0
  "$@" > "$work/out.txt" 2> "$work/err.txt" || status=$?
  if [ $status -ne 1 ] || ! grep -q -- "$pattern" "$work/err.txt"; then
    echo "FAIL: $* -> status $status, stderr:"; cat "$work/err.txt"; exit 1
  fi
  echo "ok: $(cat "$work/err.txt")"
}
run() { "$train" autoenc --config tiny_grey --out "$work/out" --steps 1 --sample-every 0 "$@"; }
expect "badpng/b.png: not a readable PNG" -- run --data "$work/badpng"
expect "short.idx: the header says 10 images" -- run --data "$work/short.idx"
expect "big.idx: images are 16x16, the model takes 8x8" -- run --data "$work/big.idx"
expect "empty: no .png files" -- run --data "$work/empty"
expect "nothere: no such file" -- run --data "$work/nothere"
expect "bad.json" -- run --data "$work/ok.idx" --config "$work/bad.json"
expect "no-such-preset is neither a preset" -- run --data "$work/ok.idx" --config no-such-preset
run --data "$work/ok.idx" > /dev/null
expect "bad.csv: line 3: attribute bright is \"2\"" -- "$train" classify \
  --model "$work/out/model.safetensors" --data "$work/ok.idx" --labels "$work/bad.csv"
printf 'index,bright,big\n0,1,0\n1,0,1\n' > "$work/ok.csv"
classify() { "$train" classify --model "$work/out/model.safetensors" --data "$work/ok.idx" \
  --labels "$work/ok.csv" --out "$work/classified.safetensors" "$@"; }
expect "ok.csv has no column \"round\" (it has: bright, big)" -- classify --attributes big,round
expect "\-\-attributes names big twice" -- classify --attributes "big, big"
expect "\-\-attributes names no attribute" -- classify --attributes ""
test ! -e "$work/classified.safetensors" || { echo "FAIL: a refused classify wrote"; exit 1; }
expect "\-\-iterations must be at least 1" -- "$train" eval --model "$work/out/model.safetensors" \
  --data "$work/ok.idx" --holdout 20 --iterations 0 --out "$work/eval"
expect "\-\-l2 must be 0 or more" -- "$train" eval --model "$work/out/model.safetensors" \
  --data "$work/ok.idx" --holdout 20 --l2 -1 --out "$work/eval"
