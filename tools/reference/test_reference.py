#!/usr/bin/python3
"""Quick self-checks of the reference model, the converter and the diffusion maths.

    /usr/bin/python3 tools/reference/test_reference.py [-k SUBSTRING]

Prints one line per check and exits non-zero if any fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, TOOLS)

import diffae_ref as R  # noqa: E402
import safetensors_io  # noqa: E402
import convert_checkpoint as CC  # noqa: E402
import make_fixture  # noqa: E402
from make_checkpoint import make_checkpoint  # noqa: E402

TSV = os.path.join(os.path.dirname(os.path.dirname(TOOLS)), "shared", "reference",
                   "official-state-dict-keys.tsv")
if not os.path.exists(TSV):
    TSV = "/work/shared/reference/official-state-dict-keys.tsv"

TMP = tempfile.mkdtemp(prefix="diffae_ref_test_")


# --- helpers ------------------------------------------------------------------------------------

def read_tsv(config_name):
    rows = []
    with open(TSV) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cfg, name, shape = line.rstrip("\n").split("\t")
            if cfg == config_name:
                rows.append((name, tuple(int(d) for d in shape.split("x"))))
    assert rows, f"no rows for {config_name} in {TSV}"
    return rows


def run_converter(ckpt: dict, *args):
    """Save ckpt, run convert_checkpoint.main in-process; return (rc, stderr, output path)."""
    path = os.path.join(TMP, "c.ckpt")
    out = os.path.join(TMP, "c.safetensors")
    if os.path.exists(out):
        os.remove(out)
    torch.save(ckpt, path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = CC.main([path, *args, "-o", out])
    return rc, err.getvalue(), out


def ema_tensors(ckpt):
    sd = ckpt["state_dict"]
    return {k[len("ema_model."):]: v for k, v in sd.items() if k.startswith("ema_model.")}


# --- checks -------------------------------------------------------------------------------------

def test_tsv_names_and_shapes():
    """state_dict names, shapes and order equal the published TSV (ffhq64, ffhq128 + latent)."""
    for preset, tsv_name in (("ffhq64", "ffhq64_autoenc"), ("ffhq128", "ffhq128_autoenc_latent")):
        expected = read_tsv(tsv_name)
        got = list(R.expected_shapes(R.PRESETS[preset]).items())
        missing = sorted(set(dict(expected)) - set(dict(got)))
        extra = sorted(set(dict(got)) - set(dict(expected)))
        assert not missing and not extra, f"{preset}: missing {missing[:5]} extra {extra[:5]}"
        bad = [(n, s, dict(got)[n]) for n, s in expected if dict(got)[n] != s]
        assert not bad, f"{preset}: shape mismatches {bad[:5]}"
        assert got == expected, f"{preset}: same set, different order"


def test_param_counts():
    """UNet / encoder / latent-net sizes of DESIGN.md section 2."""
    want = {"ffhq64": (71.5, 19.3, 0.0), "ffhq128": (103.9, 24.7, 54.1)}
    for preset, (unet, enc, lat) in want.items():
        with R.meta_init():
            c = R.param_counts(R.DiffAE(R.PRESETS[preset]))
        got = (round(c["unet"] / 1e6, 1), round(c["encoder"] / 1e6, 1),
               round(c["latent_net"] / 1e6, 1))
        assert got == (unet, enc, lat), f"{preset}: {got} M, expected {(unet, enc, lat)} M"


def test_building_blocks():
    """Time embedding is [cos, sin]; GroupNorm groups; duplicated linear_emb is one tensor."""
    e = R.timestep_embedding(torch.tensor([0.0, 5.0]), 8)
    assert torch.equal(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    assert abs(e[1, 0].item() - math.cos(5.0)) < 1e-6 and abs(e[1, 4].item() - math.sin(5.0)) < 1e-6
    assert [R.norm_groups(c) for c in (8, 24, 32, 48, 64, 384, 768)] == [8, 24, 32, 24, 32, 32, 32]
    m = R.build_model(R.PRESETS["tiny_grey"], seed=0)
    sd = m.state_dict()
    assert sd["latent_net.layers.0.cond_layers.1.weight"].data_ptr() == \
        sd["latent_net.layers.0.linear_emb.weight"].data_ptr()
    zeroed = [n for n, p in m.named_parameters() if not p.abs().sum()]
    assert "out.2.weight" in zeroed and "input_blocks.1.0.out_layers.3.weight" in zeroed
    assert "middle_block.1.proj_out.weight" in zeroed
    R.randomize(m, 1)
    assert not [n for n, p in m.named_parameters() if not p.abs().sum()], "randomize left zeros"


def test_safetensors_io():
    """F32/F16/metadata round trip; malformed files refused."""
    path = os.path.join(TMP, "io.safetensors")
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    b = (np.arange(5, dtype=np.float32) - 2).astype(np.float16)
    safetensors_io.save(path, {"a": a, "b": torch.from_numpy(b)}, {"k": "v"})
    t, meta = safetensors_io.load(path)
    assert meta == {"k": "v"} and list(t) == ["a", "b"]
    assert t["a"].dtype == np.float32 and np.array_equal(t["a"], a)
    assert t["b"].dtype == np.float16 and np.array_equal(t["b"], b)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-4])
    try:
        safetensors_io.load(path)
    except safetensors_io.SafetensorsError as e:
        assert "tensor b" in str(e), e
    else:
        raise AssertionError("truncated file accepted")


def test_converter_round_trip():
    """make_checkpoint -> convert -> read back == EMA weights exactly; stats; CLI; F16."""
    ckpt = make_checkpoint(R.PRESETS["small"], seed=3, random_all=True)
    rc, err, out = run_converter(ckpt, "--config", "small")
    assert rc == 0, err
    tensors, meta = safetensors_io.load(out)
    ema = ema_tensors(ckpt)
    names = [n for n in ema if not R.is_duplicate_name(n)]
    assert set(tensors) == set(names) | {"latent.mean", "latent.std"}, \
        sorted(set(tensors) ^ set(names))
    for n in names:
        assert np.array_equal(tensors[n], ema[n].numpy()), f"{n} differs from the EMA weight"
        assert not np.array_equal(tensors[n], ckpt["state_dict"]["model." + n].numpy())
    sd = ckpt["state_dict"]
    assert np.array_equal(tensors["latent.mean"], sd["conds_mean"].numpy().reshape(-1))
    assert np.array_equal(tensors["latent.std"], sd["conds_std"].numpy().reshape(-1))
    assert meta["diffae.format"] == "1"
    assert R.Config.from_json(meta["diffae.config"]) == R.PRESETS["small"]

    rc, err, out = run_converter(ckpt, "--config", "small", "--f16")
    t16, _ = safetensors_io.load(out)
    assert rc == 0 and t16["out.2.weight"].dtype == np.float16
    assert t16["latent.std"].dtype == np.float32
    assert np.allclose(t16["out.2.weight"], ema["out.2.weight"].numpy(), rtol=1e-3, atol=1e-4)

    cli = subprocess.run([sys.executable, os.path.join(TOOLS, "convert_checkpoint.py"),
                          os.path.join(TMP, "c.ckpt"), "--config", "small", "-o",
                          os.path.join(TMP, "cli.safetensors")], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr


def test_converter_latent_options():
    """Latent net auto-detected / dropped; --latent-pkl overrides the checkpoint's stats."""
    ckpt = make_checkpoint(R.PRESETS["tiny_grey"], seed=4, random_all=True)
    pkl = os.path.join(TMP, "latent.pkl")
    mean, std = torch.linspace(-1, 1, 8), torch.linspace(0.5, 2, 8)
    torch.save({"conds": torch.zeros(3, 8), "conds_mean": mean[None], "conds_std": std}, pkl)
    rc, err, out = run_converter(ckpt, "--config", "tiny_grey", "--latent-pkl", pkl)
    t, meta = safetensors_io.load(out)
    assert rc == 0, err
    assert np.array_equal(t["latent.mean"], mean.numpy()) and np.array_equal(t["latent.std"],
                                                                              std.numpy())
    rc, err, out = run_converter(ckpt, "--config", "tiny_grey", "--no-latent")
    t, meta = safetensors_io.load(out)
    assert rc == 0 and not any(k.startswith("latent_net.") for k in t)
    assert R.Config.from_json(meta["diffae.config"]).latent_net is None
    sd = {k: v for k, v in ckpt["state_dict"].items() if ".latent_net." not in k}
    rc, err, out = run_converter({"state_dict": sd}, "--config", "tiny_grey")
    t, meta = safetensors_io.load(out)
    assert rc == 0 and json_latent(meta) is None and "latent.mean" in t


def json_latent(meta):
    return R.Config.from_json(meta["diffae.config"]).latent_net


def test_converter_refusals():
    """Missing, extra, mis-shaped and unequal duplicate tensors: exit 2, tensor named."""
    base = make_checkpoint(R.PRESETS["tiny_grey"], seed=5)
    cases = []
    sd = dict(base["state_dict"])
    del sd["ema_model.input_blocks.1.0.in_layers.2.weight"]
    cases.append((sd, "input_blocks.1.0.in_layers.2.weight"))
    sd = dict(base["state_dict"])
    sd["ema_model.input_blocks.1.0.extra.weight"] = torch.zeros(3)
    cases.append((sd, "input_blocks.1.0.extra.weight"))
    sd = dict(base["state_dict"])
    sd["ema_model.encoder.out.3.bias"] = torch.zeros(9)
    cases.append((sd, "encoder.out.3.bias"))
    sd = dict(base["state_dict"])
    sd["ema_model.latent_net.layers.0.cond_layers.1.bias"] = torch.ones(16)
    cases.append((sd, "latent_net.layers.0.cond_layers.1.bias"))
    for sd, name in cases:
        rc, err, _ = run_converter({"state_dict": sd}, "--config", "tiny_grey")
        assert rc == CC.EXIT_REFUSED, f"{name}: rc {rc}"
        assert name in err, f"{name} not named in: {err}"
    rc, err, _ = run_converter(cases[2][0], "--config", "tiny_grey")
    assert "[9]" in err and "[8]" in err, f"shapes not both given: {err}"


def test_converter_unimportable_classes():
    """A checkpoint pickling classes that are not importable here (training configs) converts."""
    d = os.path.join(TMP, "fakepkg")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "fakeconf.py"), "w") as f:
        f.write("import enum\nclass Kind(enum.Enum):\n    A = 'a'\n"
                "class TrainConfig:\n    def __init__(self):\n        self.kind = Kind.A\n")
    ckpt = os.path.join(TMP, "hp.ckpt")
    script = ("import sys, torch; sys.path[:0] = [%r, %r]; import fakeconf, make_checkpoint as M,"
              " diffae_ref as R; c = M.make_checkpoint(R.PRESETS['tiny_grey'], 1);"
              " c['hyper_parameters'] = {'conf': fakeconf.TrainConfig()}; torch.save(c, %r)"
              % (d, HERE, ckpt))
    subprocess.run([sys.executable, "-c", script], check=True)
    out = os.path.join(TMP, "hp.safetensors")
    with contextlib.redirect_stdout(io.StringIO()):
        assert CC.main([ckpt, "--config", "tiny_grey", "-o", out]) == 0


def test_respacing():
    """N=10 -> stride 100 (0..900), N=20 -> 50, N=100 -> 10."""
    assert R.respace(1000, 10) == list(range(0, 1000, 100))
    assert R.respace(1000, 20) == list(range(0, 1000, 50))
    assert R.respace(1000, 100) == list(range(0, 1000, 10))
    assert R.respace(1000, 1000) == list(range(1000))
    abar = R.alphas_cumprod(R.linear_betas())
    assert abs(abar[0] - (1 - 1e-4)) < 1e-15 and 3e-5 < abar[-1] < 5e-5


def test_inversion_analytic():
    """decode(invert(x)) ~ x with the exact denoiser of Gaussian data (a smooth eps model)."""
    abar = R.alphas_cumprod(R.linear_betas())
    s2 = 0.3 ** 2

    def gauss_eps(x, t):
        a = float(abar[int(t[0])])
        return x * (math.sqrt(1 - a) / (a * s2 + 1 - a))

    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.randn(4, 3, 8, 8, generator=g)
    err = {}
    for n in (20, 100):
        ddim = R.DDIM(R.linear_betas(), n)
        err[n] = ((ddim.sample(gauss_eps, ddim.invert(gauss_eps, x)) - x) ** 2).mean().item()
    rnd = ddim.sample(gauss_eps, torch.randn(x.shape, generator=g))
    e_rnd = ((rnd - x) ** 2).mean().item()
    # first-order DDIM: the inversion error shrinks with the step count (20 -> 100: ~15x)
    assert err[100] < 2e-3 and err[100] < 0.2 * err[20] and err[20] < 0.1 * e_rnd, (err, e_rnd)


def test_inversion_trained_model():
    """With a briefly trained tiny_grey model, decode(invert(x)) beats a random x_T."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    model = R.build_model(R.PRESETS["tiny_grey"], seed=0).train()
    data = make_fixture.smooth_image(g, 256, 1, 8)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(150):
        x = data[torch.randint(0, 256, (32,), generator=g)]
        t = torch.randint(0, 1000, (32,), generator=g)
        loss = R.training_loss(model, x, t, torch.randn(x.shape, generator=g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = make_fixture.smooth_image(g, 4, 1, 8)
    with torch.no_grad():
        z = model.encoder(x)
        rec = R.ddim_decode(model, z, R.ddim_invert(model, z, x, 20), 20)
        rnd = R.ddim_decode(model, z, torch.randn(x.shape, generator=g), 20)
    e_rec, e_rnd = ((rec - x) ** 2).mean().item(), ((rnd - x) ** 2).mean().item()
    assert e_rec < 0.25 * e_rnd, (e_rec, e_rnd)


def test_fixture_tiny():
    """make_fixture writes a loadable model and a consistent fixture (tiny_grey, --grads)."""
    outdir = os.path.join(TMP, "fx")
    with contextlib.redirect_stdout(io.StringIO()):
        make_fixture.main(["--config", "tiny_grey", "--seed", "2", "--outdir", outdir, "--grads"])
    fx, meta = safetensors_io.load(os.path.join(outdir, "fixture.safetensors"))
    wt, wmeta = safetensors_io.load(os.path.join(outdir, "model.safetensors"))
    assert json.loads(meta["fixture.tensors"]) == list(fx)
    model = R.from_tensors(R.Config.from_json(wmeta["diffae.config"]), wt)
    with torch.no_grad():
        eps = model.eps(torch.from_numpy(fx["unet.x_t"]), torch.from_numpy(fx["unet.t"]),
                        torch.from_numpy(fx["unet.z_sem"]))
    assert np.array_equal(eps.numpy(), fx["unet.eps"])
    n_unet = len(model.unet_parameters())
    assert sum(k.startswith("grad.") and not k.startswith(("grad.encoder.", "grad.latent_net."))
               for k in fx) == n_unet
    assert "grad.latent_net.layers.0.linear_emb.weight" in fx
    assert not any(R.is_duplicate_name(k[len("grad."):]) for k in fx if k.startswith("grad."))
    assert all(np.isfinite(v).all() for v in fx.values())


def main(argv):
    only = argv[argv.index("-k") + 1] if "-k" in argv else ""
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and only in n]
    failed = 0
    t_all = time.time()
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            print(f"PASS {name} ({time.time() - t0:.1f} s)")
        except Exception:
            failed += 1
            print(f"FAIL {name} ({time.time() - t0:.1f} s)")
            traceback.print_exc()
    print(f"{len(tests) - failed}/{len(tests)} passed in {time.time() - t_all:.1f} s")
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
