#!/usr/bin/python3
"""Does a model's z_sem hold a factor at all, linearly or not?

    probe_factors.py MODEL DATA [--train 10000] [--test 5000] [--k 15] [--threads 2]
                     [--json OUT.json]

DATA is a labelled PNG dataset as tools/make_shapes_dataset.py writes it: DATA/train.csv and
DATA/test.csv with a `file` column (PNG path relative to DATA) and one 0/1 column per binary
attribute. The images are encoded with MODEL's encoder in the PyTorch reference
(tools/reference), z_sem standardised by the training rows' mean and std, and each attribute
is predicted on the held-out rows three ways:

  z_sem k-NN     majority of the k nearest training z_sem (Euclidean)
  z_sem MLP      one hidden layer of 256 ReLU units, all attributes at once, 1,500 full-batch
                 Adam steps (lr 1e-3, seed 0) on binary cross-entropy; no early stop, so an
                 overfit shows as a lower held-out accuracy, never a higher one
  pixels k-NN    the same k-NN on the raw pixels, for scale

next to the base rate (the held-out share of the majority class). `diffae-train eval`'s
linear probes say whether a factor is linear in z_sem; this says whether it is there at all:
a factor at the base rate under all three z_sem columns is one the encoder does not carry,
and no editing direction can move it.
"""

import argparse
import csv
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
import diffae_ref as ref  # noqa: E402
import safetensors_io  # noqa: E402

MLP_HIDDEN, MLP_STEPS, MLP_LR = 256, 1500, 1e-3
ENCODE_BATCH = 500


def read_split(data, split, limit):
    """(images as float NCHW in [-1, 1], labels int [N, A], attribute names) of one split."""
    with open(os.path.join(data, split + ".csv")) as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:limit + 1]
    if not header or header[0] != "file" or len(header) < 2:
        raise SystemExit("%s/%s.csv: the first column must be `file`, then attributes"
                         % (data, split))
    labels = np.array([[int(v) for v in r[1:]] for r in rows], dtype=np.int64)
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise SystemExit("%s/%s.csv: attribute values must be 0 or 1" % (data, split))
    images = [np.asarray(Image.open(os.path.join(data, r[0])).convert("RGB")) for r in rows]
    return to_model_input(images), labels, header[1:]


def to_model_input(images):
    """uint8 HxWx3 images -> float NCHW in [-1, 1], as the encoder takes them."""
    return np.stack(images).astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0


def check_image_size(images, cfg):
    """Refuse images (NCHW) of another size or channel count than the model's."""
    if images.shape[1:] != (cfg.in_channels, cfg.image_size, cfg.image_size):
        raise SystemExit("images are %s, the model takes %dx%dx%d" % (
            "x".join(map(str, images.shape[1:])), cfg.in_channels, cfg.image_size,
            cfg.image_size))


def load_model(path):
    tensors, meta = safetensors_io.load(path)
    cfg = ref.Config.from_json(meta["diffae.config"])
    return ref.from_tensors(cfg, tensors), cfg


def encode(model, images):
    with torch.no_grad():
        return np.concatenate([model.encode(torch.from_numpy(images[i:i + ENCODE_BATCH])).numpy()
                               for i in range(0, len(images), ENCODE_BATCH)])


def knn_predict(train, test, labels, k):
    """Majority vote of the k nearest training rows, per attribute (labels [N, A])."""
    out = np.empty((len(test), labels.shape[1]), dtype=np.int64)
    sq = (train * train).sum(1)
    for i in range(0, len(test), 1000):
        b = test[i:i + 1000]
        d = sq[None, :] - 2.0 * b @ train.T      # + |b|^2, the same for every row
        nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
        out[i:i + 1000] = labels[nearest].mean(1) > 0.5
    return out


def mlp_predict(train, test, labels):
    torch.manual_seed(0)
    x, y = torch.from_numpy(train), torch.from_numpy(labels).float()
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], MLP_HIDDEN), torch.nn.ReLU(),
                              torch.nn.Linear(MLP_HIDDEN, labels.shape[1]))
    opt = torch.optim.Adam(net.parameters(), MLP_LR)
    for _ in range(MLP_STEPS):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(x), y).backward()
        opt.step()
    with torch.no_grad():
        return (net(torch.from_numpy(test)) > 0).numpy().astype(np.int64)


def accuracies(pred, truth, names):
    return {n: float((pred[:, j] == truth[:, j]).mean()) for j, n in enumerate(names)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--train", type=int, default=10000, help="training rows used (first N)")
    ap.add_argument("--test", type=int, default=5000, help="held-out rows used (first N)")
    ap.add_argument("--k", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the table here too")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model, cfg = load_model(args.model)
    xtr, ytr, names = read_split(args.data, "train", args.train)
    xte, yte, test_names = read_split(args.data, "test", args.test)
    if test_names != names:
        raise SystemExit("train.csv and test.csv name different attributes")
    check_image_size(xtr, cfg)
    if len(xtr) < args.k:
        raise SystemExit("need at least --k training rows")
    ztr, zte = encode(model, xtr), encode(model, xte)
    mean, std = ztr.mean(0), ztr.std(0) + 1e-6
    ztr, zte = (ztr - mean) / std, (zte - mean) / std

    table = {
        "z_sem k-NN": accuracies(knn_predict(ztr, zte, ytr, args.k), yte, names),
        "z_sem MLP": accuracies(mlp_predict(ztr, zte, ytr), yte, names),
        "pixels k-NN": accuracies(knn_predict(xtr.reshape(len(xtr), -1),
                                              xte.reshape(len(xte), -1), ytr, args.k),
                                  yte, names),
        "base rate": {n: float(max(yte[:, j].mean(), 1.0 - yte[:, j].mean()))
                      for j, n in enumerate(names)},
    }
    print("held-out accuracy, %d training and %d held-out images, z_sem %d, k = %d"
          % (len(xtr), len(xte), ztr.shape[1], args.k))
    print("| probe | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for probe, acc in table.items():
        print("| %s | " % probe + " | ".join("%.3f" % acc[n] for n in names) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "train": len(xtr), "test": len(xte), "k": args.k,
                       "accuracy": table}, f, indent=1)


if __name__ == "__main__":
    main()
