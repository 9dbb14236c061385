#!/usr/bin/python3
"""PyTorch CPU side of bench/models.sh: the same measurements as build/bench/bench-models on the
reference model (tools/reference/diffae_ref.py, random weights), 2 threads, one JSON line each.

  models_torch.py CONFIG --what unet|encoder|decode|invert [--batch N] [--steps N] [--reps R]
                  [--warmup W] [--gmac G]
  models_torch.py CONFIG --count-macs          multiply-adds per sample of the UNet and encoder

CONFIG: a preset name (ffhq64, ffhq128, ...) or a config JSON file. unet / encoder: one forward
pass; decode: a DDIM loop of --steps UNet steps; invert: the encoder, then --steps steps of DDIM
inversion (what dae_encode does). Times are medians of --reps runs after --warmup; peak_rss_mib
is the process's peak resident memory (the whole model's weights included, as in bench-models).
Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
sys.path.insert(0, os.path.join(TOOLS, "reference"))

import torch  # noqa: E402

import diffae_ref as R  # noqa: E402


def config(arg):
    return R.Config.from_json(open(arg).read()) if os.path.isfile(arg) else R.get_config(arg)


def count_macs(model, fn):
    """Multiply-adds of fn() by forward hooks: convolutions, linear layers and the two
    matrix products of each attention block (scores and weighted values)."""
    total = [0]

    def conv_hook(m, inp, out):
        k = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
        total[0] += out.numel() * k

    def linear_hook(m, inp, out):
        total[0] += out.numel() * m.in_features

    def attn_hook(m, inp, out):
        n, c, h, w = inp[0].shape
        total[0] += 2 * n * c * (h * w) ** 2

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, R.AttentionBlock):
            hooks.append(m.register_forward_hook(attn_hook))
    with torch.no_grad():
        fn()
    for h in hooks:
        h.remove()
    return total[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--what", default="unet", choices=["unet", "encoder", "decode", "invert"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--gmac", type=float, default=0.0, help="per sample and network pass")
    ap.add_argument("--count-macs", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cfg = config(a.config)
    model = R.build_model(cfg, seed=0)
    n, S = a.batch, cfg.image_size
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, cfg.in_channels, S, S, generator=g).clamp(-1, 1)
    z = torch.randn(n, cfg.z_channels, generator=g)
    t = torch.full((n,), 500.0)
    if a.count_macs:
        one_x, one_z, one_t = x[:1], z[:1], t[:1]
        unet = count_macs(model, lambda: model.eps(one_x, one_t, one_z))
        enc = count_macs(model, lambda: model.encode(one_x))
        print(json.dumps({"config": cfg.name, "unet_gmac": round(unet / 1e9, 3),
                          "encoder_gmac": round(enc / 1e9, 3)}))
        return
    runs = {
        "unet": lambda: model.eps(x, t, z),
        "encoder": lambda: model.encode(x),
        "decode": lambda: R.ddim_decode(model, z, x, a.steps),
        "invert": lambda: R.ddim_invert(model, model.encode(x), x, a.steps),
    }
    fn = runs[a.what]
    times = []
    with torch.no_grad():
        for r in range(a.warmup + a.reps):
            t0 = time.perf_counter()
            fn()
            if r >= a.warmup:
                times.append(time.perf_counter() - t0)
    median = sorted(times)[len(times) // 2]
    passes = a.steps if a.what in ("decode", "invert") else 1
    gflops = 2.0 * a.gmac * n * passes / median if a.gmac > 0 else 0.0
    print(json.dumps({
        "impl": "pytorch", "backend": "torch", "device":
        f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads",
        "what": a.what, "batch": n, "steps": passes, "median_s": round(median, 5),
        "times_s": [round(v, 5) for v in times], "gflops": round(gflops, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)}))


if __name__ == "__main__":
    main()
