#!/bin/sh
# gst-inspect-1.0 lists the plugin's four elements with their documented properties.
set -eu
out=$(gst-inspect-1.0 diffae)
echo "$out"
echo "$out" | grep -q 'libgstdiffae.so' || { echo "FAIL: plugin file"; exit 1; }
echo "$out" | grep -q '4 elements' || { echo "FAIL: not 4 elements"; exit 1; }
check () {
  element=$1
  shift
  info=$(gst-inspect-1.0 "$element") || { echo "FAIL: gst-inspect-1.0 $element"; exit 1; }
  for prop in "$@"; do
    # "  name   : blurb" with a non-empty blurb
    echo "$info" | grep -Eq "^  $prop +: [A-Z]" || {
      echo "FAIL: $element has no documented property $prop"; exit 1; }
  done
  echo "$element: $*"
}
check diffaeencode model backend device inversion-steps batch
check diffaedecode model backend device steps noise seed batch
check diffaeinterp alpha
check diffaeedit model backend device edits attribute strength
gst-inspect-1.0 diffaeinterp | grep -A1 '^  alpha' | grep -q controllable || {
  echo "FAIL: alpha is not controllable"; exit 1; }
gst-inspect-1.0 diffaeedit | grep -A1 '^  strength' | grep -q controllable || {
  echo "FAIL: strength is not controllable"; exit 1; }
gst-inspect-1.0 diffaedecode | grep -q 'per-frame' || { echo "FAIL: noise values"; exit 1; }
echo "inspect passed"
