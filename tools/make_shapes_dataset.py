#!/usr/bin/python3
"""Write the procedural shapes dataset (tools/shapes.py) as PNG folders.

  make_shapes_dataset.py OUTDIR [--size 32] [--train 50000] [--test 5000]
                                [--seed 1] [--version 2] [--jobs N]

Output:
  OUTDIR/train/000000.png ...    RGB PNGs, size x size
  OUTDIR/test/000000.png ...
  OUTDIR/train.csv, test.csv     file,large,red,round,left,light_bg  (0/1)
  OUTDIR/train_factors.csv, test_factors.csv
                                 file,shape,hue,bg_hue,bg_value,size,x,y,turn,aspect
The `file` column is the PNG's path relative to OUTDIR (e.g. train/000123.png).
Image i of the train split is shapes.generate(i, size, seed, stream=0, version),
of the test split stream=1, so the splits are disjoint draws and every image can
be regenerated from its index.  --version picks the generator (tools/shapes.py:
2, the shipped model's data; 3, the shapes turned on end; 4, every shape's
width / height drawn from a range).  Work is spread
over --jobs processes (default: all CPUs).  Never commit OUTDIR.
"""
import argparse
import multiprocessing
import os
import sys
import time

from PIL import Image

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

SPLITS = (("train", 0), ("test", 1))
FACTOR_KEYS = ("shape", "hue", "bg_hue", "bg_value", "size", "x", "y", "turn", "aspect")
CHUNK = 500


def write_chunk(job):
    """Render and save images [start, stop) of one split; return their factors."""
    outdir, split, stream, start, stop, size, seed, version = job
    rows = []
    for i in range(start, stop):
        image, factors = shapes.generate(i, size=size, seed=seed, stream=stream, version=version)
        name = "%s/%06d.png" % (split, i)
        Image.fromarray(image, "RGB").save(os.path.join(outdir, name))
        rows.append((name, factors))
    return rows


def label_line(name, factors):
    """One row of the binary-attribute CSV."""
    attrs = shapes.attributes(factors)
    return ",".join([name] + [str(attrs[a]) for a in shapes.ATTRIBUTES])


def factor_line(name, factors):
    """One row of the continuous-factor CSV."""
    values = ["%.6f" % factors[k] if isinstance(factors[k], float) else str(factors[k])
              for k in FACTOR_KEYS]
    return ",".join([name] + values)


def write_csvs(outdir, split, rows):
    """<split>.csv and <split>_factors.csv for the rows of one split."""
    labels = ["file," + ",".join(shapes.ATTRIBUTES)]
    labels += [label_line(n, f) for n, f in rows]
    factors = ["file," + ",".join(FACTOR_KEYS)]
    factors += [factor_line(n, f) for n, f in rows]
    for fname, lines in (("%s.csv" % split, labels), ("%s_factors.csv" % split, factors)):
        with open(os.path.join(outdir, fname), "w") as f:
            f.write("\n".join(lines) + "\n")


def make_split(pool, outdir, split, stream, count, args):
    """Render one split in chunks over the pool and write its CSVs."""
    os.makedirs(os.path.join(outdir, split), exist_ok=True)
    jobs = [(outdir, split, stream, s, min(s + CHUNK, count), args.size, args.seed, args.version)
            for s in range(0, count, CHUNK)]
    rows = []
    for chunk in pool.imap(write_chunk, jobs):
        rows.extend(chunk)
        print("\r%s: %d/%d" % (split, len(rows), count), end="", flush=True)
    print()
    write_csvs(outdir, split, rows)
    rates = {a: sum(shapes.attributes(f)[a] for _, f in rows) / max(count, 1)
             for a in shapes.ATTRIBUTES}
    print("%s: attribute rates %s" % (split, ", ".join("%s %.3f" % kv for kv in rates.items())))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--train", type=int, default=50000)
    ap.add_argument("--test", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--version", type=int, default=2, choices=shapes.VERSIONS,
                    help="generator version (tools/shapes.py)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    counts = {"train": args.train, "test": args.test}
    t0 = time.time()
    with multiprocessing.Pool(args.jobs) as pool:
        for split, stream in SPLITS:
            make_split(pool, args.outdir, split, stream, counts[split], args)
    print("wrote %d train + %d test %dx%d images (generator v%d) to %s in %.1f s (%d jobs)"
          % (args.train, args.test, args.size, args.size, args.version, args.outdir,
             time.time() - t0, args.jobs))


if __name__ == "__main__":
    main()
