#!/bin/sh
# Every shaders/*.comp must be compiled by shaders/meson.build (a file left out would never
# be built, and its op would fail at run time).
dir="$1"
status=0
for f in "$dir"/*.comp; do
  name=$(basename "$f")
  if ! grep -q "'$name'" "$dir/meson.build"; then
    echo "shaders/$name is not listed in shaders/meson.build"
    status=1
  fi
done
exit $status
