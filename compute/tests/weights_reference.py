#!/usr/bin/python3
"""What the PyTorch reference says about weights files, for compute/tests/test_weights.c.

    weights_reference.py dump
        For the presets small, tiny_grey, ffhq64, ffhq128 (with its latent net), on stdout:
          C <preset> <config JSON as Config.to_json writes it>
          N <preset> <unet> <encoder> <latent_net>        parameter counts (param_counts)
          P <preset> <name> <d0>x<d1>...                  state_dict order, without the
                                                          cond_layers.1 copies
        Built on the meta device: shapes only, instant.

    weights_reference.py convert OUTDIR
        Makes a checkpoint of the small config (tools/reference/make_checkpoint.py, every tensor
        random), converts it with tools/convert_checkpoint.py (the command line, as a user would)
        to OUTDIR/small.safetensors and, with --f16, OUTDIR/small_f16.safetensors, and writes what
        the C loader must find: OUTDIR/expected.txt ("name numel" per tensor, converter order:
        the EMA tensors, then latent.mean and latent.std) and OUTDIR/expected.bin (their f32
        values, little-endian, concatenated).

    weights_reference.py verify OUTDIR
        Reads OUTDIR/c_written.safetensors (the C writer's copy of small.safetensors) with
        tools/safetensors_io.py, builds the reference model from its config and tensors
        (diffae_ref.from_tensors) and checks every value against OUTDIR/expected.bin.

Fields are tab-separated.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, os.path.join(TOOLS, "reference"))
sys.path.insert(0, TOOLS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import diffae_ref as R  # noqa: E402

PRESETS = ("small", "tiny_grey", "ffhq64", "ffhq128")


def dump() -> int:
    out = []
    for name in PRESETS:
        cfg = R.get_config(name)
        with R.meta_init():
            model = R.DiffAE(cfg)
        counts = R.param_counts(model)
        out.append(f"C\t{name}\t{cfg.to_json()}")
        out.append(f"N\t{name}\t{counts['unet']}\t{counts['encoder']}\t{counts['latent_net']}")
        for k, v in model.state_dict().items():
            if not R.is_duplicate_name(k):
                out.append(f"P\t{name}\t{k}\t{'x'.join(str(d) for d in v.shape)}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def convert(outdir: str) -> int:
    from make_checkpoint import make_checkpoint

    ckpt_path = os.path.join(outdir, "small.ckpt")
    ckpt = make_checkpoint(R.get_config("small"), seed=5, random_all=True)
    torch.save(ckpt, ckpt_path)
    conv = os.path.join(TOOLS, "convert_checkpoint.py")
    for extra, out in (([], "small.safetensors"), (["--f16"], "small_f16.safetensors")):
        subprocess.run([sys.executable, conv, ckpt_path, "--config", "small", *extra, "-o",
                        os.path.join(outdir, out)], check=True, stdout=subprocess.DEVNULL)
    sd = ckpt["state_dict"]
    names = [k for k in R.expected_shapes(R.get_config("small")) if not R.is_duplicate_name(k)]
    arrays = [(k, sd["ema_model." + k].detach().float().numpy()) for k in names]
    arrays.append(("latent.mean", sd["conds_mean"].float().numpy().reshape(-1)))
    arrays.append(("latent.std", sd["conds_std"].float().numpy().reshape(-1)))
    with open(os.path.join(outdir, "expected.txt"), "w") as txt, \
            open(os.path.join(outdir, "expected.bin"), "wb") as binf:
        for k, a in arrays:
            txt.write(f"{k}\t{a.size}\n")
            binf.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
    return 0


def verify(outdir: str) -> int:
    import safetensors_io

    tensors, meta = safetensors_io.load(os.path.join(outdir, "c_written.safetensors"))
    if meta.get("diffae.format") != "1":
        raise SystemExit(f"diffae.format is {meta.get('diffae.format')!r}")
    cfg = R.Config.from_json(meta["diffae.config"])
    model = R.from_tensors(cfg, tensors)
    sd = model.state_dict()
    expected = np.fromfile(os.path.join(outdir, "expected.bin"), dtype="<f4")
    at = 0
    with open(os.path.join(outdir, "expected.txt")) as f:
        for line in f:
            name, n = line.rstrip("\n").split("\t")
            n = int(n)
            got = tensors[name] if name.startswith("latent.") else sd[name].numpy()
            if not np.array_equal(got.reshape(-1), expected[at:at + n]):
                raise SystemExit(f"{name}: values differ")
            at += n
    if set(tensors) != set(k for k in sd if not R.is_duplicate_name(k)) | {"latent.mean",
                                                                            "latent.std"}:
        raise SystemExit("tensor names differ")
    print(f"c_written.safetensors: {len(tensors)} tensors read by the Python reader, equal")
    return 0


def main(argv) -> int:
    if len(argv) == 2 and argv[1] == "dump":
        return dump()
    if len(argv) == 3 and argv[1] == "convert":
        return convert(argv[2])
    if len(argv) == 3 and argv[1] == "verify":
        return verify(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
