#!/bin/sh
# End to end: runs the examples (gst-launch-1.0 scripts and the two C programs) on the tiny
# test model with test patterns and checks the PNG frames they write.
#
#   test-examples.sh EXAMPLES_SRC_DIR EXAMPLES_BUILD_DIR MODEL PNG_COMPARE
set -eu
src=$1
bin=$2
model=$3
cmp=$4
n=6
steps=20
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail () {
  echo "FAIL: $*" >&2
  exit 1
}
count () {
  ls "$1" 2>/dev/null | grep -c "^$2" || true
}
# mse A B: prints the MSE and checks that the frame is 16x16
mse () {
  out=$("$cmp" "$1" "$2") || fail "$1 and $2 differ in size: $out"
  set -- $out
  [ "$2" = 16 ] && [ "$3" = 16 ] || fail "frame is $2x$3, not 16x16"
  echo "$1"
}
# less X Y: X < Y
less () {
  awk -v x="$1" -v y="$2" 'BEGIN { exit !(x < y) }'
}
frame () {
  printf '%s/%s%05d.png' "$1" "$2" "$3"
}

echo "== gst-reconstruct.sh (smpte and pinwheel, $n frames, $steps steps)"
for p in smpte pinwheel; do
  FRAMES=$n PATTERN=$p sh "$src/gst-reconstruct.sh" "$model" "$tmp/rec-$p" "" $steps
  [ "$(count "$tmp/rec-$p" input-)" = $n ] || fail "$p: $(count "$tmp/rec-$p" input-) input frames"
  [ "$(count "$tmp/rec-$p" output-)" = $n ] || fail "$p: $(count "$tmp/rec-$p" output-) output frames"
  i=0
  while [ $i -lt $n ]; do
    e=$(mse "$(frame "$tmp/rec-$p" input- $i)" "$(frame "$tmp/rec-$p" output- $i)")
    less "$e" 0.03 || fail "$p frame $i: reconstruction MSE $e"
    i=$((i + 1))
  done
  echo "$p: reconstruction MSE of the last frame $e"
done

echo "== gst-latent-save.sh / gst-latent-load.sh, z_sem only"
FRAMES=$n PATTERN=smpte sh "$src/gst-latent-save.sh" "$model" "$tmp/z.lat"
[ "$(wc -c < "$tmp/z.lat")" = $((n * 16 * 4)) ] || fail "z.lat has $(wc -c < "$tmp/z.lat") bytes"
cat "$tmp/z.lat.caps"
grep -q 'application/x-diffae-latent' "$tmp/z.lat.caps" || fail "caps file"
grep -q 'z-channels=(int)16' "$tmp/z.lat.caps" || fail "caps file: z-channels"
grep -q 'has-xt=(boolean)false' "$tmp/z.lat.caps" || fail "caps file: has-xt"
grep -q 'model-id=(string)[0-9a-f]\{16\}' "$tmp/z.lat.caps" || fail "caps file: model-id"
STEPS=$steps sh "$src/gst-latent-load.sh" "$model" "$tmp/z.lat" "$tmp/z" 7
[ "$(count "$tmp/z" frame-)" = $n ] || fail "$(count "$tmp/z" frame-) frames decoded from z.lat"
ez=$(mse "$(frame "$tmp/rec-smpte" input- 0)" "$(frame "$tmp/z" frame- 0)")
er=$(mse "$(frame "$tmp/rec-smpte" input- 0)" "$(frame "$tmp/rec-smpte" output- 0)")
echo "z_sem only: MSE $ez; with inverted x_T: $er"
less "$er" "$ez" || fail "z_sem only ($ez) is not worse than with x_T ($er)"

echo "== the same with x_T in the file: frames equal the reconstruction"
FRAMES=$n PATTERN=smpte INVERSION_STEPS=$steps sh "$src/gst-latent-save.sh" "$model" "$tmp/x.lat"
[ "$(wc -c < "$tmp/x.lat")" = $((n * (16 + 3 * 16 * 16) * 4)) ] || fail "x.lat size"
STEPS=$steps sh "$src/gst-latent-load.sh" "$model" "$tmp/x.lat" "$tmp/x"
e=$(mse "$(frame "$tmp/rec-smpte" output- 3)" "$(frame "$tmp/x" frame- 3)")
[ "$e" = 0.000000 ] || fail "decoding x.lat differs from the reconstruction (MSE $e)"
if sh "$src/gst-latent-load.sh" "$tmp/../no-such-model.safetensors" "$tmp/x.lat" "$tmp/bad" 2>"$tmp/err"; then
  fail "a missing model was accepted"
fi
grep -q "no-such-model.safetensors" "$tmp/err" || fail "the error does not name the model: $(cat "$tmp/err")"

echo "== diffae-edit-ramp: bright from 0 to 2"
"$bin/diffae-edit-ramp" -n $n --steps $steps --from 0 --to 2 --pattern smpte "$model" bright "$tmp/edit"
[ "$(count "$tmp/edit" frame-)" = $n ] || fail "$(count "$tmp/edit" frame-) edited frames"
e0=$(mse "$(frame "$tmp/rec-smpte" output- 0)" "$(frame "$tmp/edit" frame- 0)")
e1=$(mse "$(frame "$tmp/rec-smpte" output- $((n - 1)))" "$(frame "$tmp/edit" frame- $((n - 1)))")
echo "distance from the reconstruction: first frame $e0, last frame $e1"
[ "$e0" = 0.000000 ] || fail "strength 0 changed the first frame (MSE $e0)"
# (The tiny model leans on x_T: an edit of z_sem moves its pictures only a little.)
less 0.00001 "$e1" || fail "strength 2 did not change the last frame (MSE $e1)"
if "$bin/diffae-edit-ramp" -n 2 "$model" nosuch "$tmp/edit2" 2>"$tmp/err"; then
  fail "an unknown attribute was accepted"
fi
grep -q 'bright, round' "$tmp/err" || fail "the error does not list the attributes: $(cat "$tmp/err")"

echo "== diffae-morph: smpte into pinwheel"
"$bin/diffae-morph" -n $n --steps $steps --pattern-a smpte --pattern-b pinwheel "$model" "$tmp/morph"
[ "$(count "$tmp/morph" frame-)" = $n ] || fail "$(count "$tmp/morph" frame-) morph frames"
ea=$(mse "$(frame "$tmp/rec-smpte" output- 0)" "$(frame "$tmp/morph" frame- 0)")
eb=$(mse "$(frame "$tmp/rec-pinwheel" output- $((n - 1)))" "$(frame "$tmp/morph" frame- $((n - 1)))")
em=$(mse "$(frame "$tmp/rec-smpte" output- 0)" "$(frame "$tmp/morph" frame- $((n / 2)))")
echo "first frame vs A: $ea, last frame vs B: $eb, middle frame vs A: $em"
[ "$ea" = 0.000000 ] || fail "alpha 0 is not video A (MSE $ea)"
[ "$eb" = 0.000000 ] || fail "alpha 1 is not video B (MSE $eb)"
less 0.0001 "$em" || fail "the middle frame is video A"
echo "all examples passed"
