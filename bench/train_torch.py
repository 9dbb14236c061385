#!/usr/bin/python3
"""PyTorch CPU side of bench/train.sh: images/s of the same training step as bench-train
(tools/reference/diffae_ref.py: eps MSE, clip_grad_norm_ 1.0, Adam, EMA) on 2 threads.

  train_torch.py CONFIG BATCH [STEPS] [WARMUP]     CONFIG: a preset name or a JSON file
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
sys.path.insert(0, os.path.join(TOOLS, "reference"))

import torch  # noqa: E402

import diffae_ref as R  # noqa: E402


def main():
    arg, batch = sys.argv[1], int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.set_num_threads(2)
    cfg = R.get_config(arg) if not os.path.isfile(arg) else R.Config.from_json(open(arg).read())
    model = R.build_model(cfg, seed=0).train()
    params = [p for n, p in model.named_parameters() if not n.startswith("latent_net.")]
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=1e-4)
    g = torch.Generator().manual_seed(1)
    x0 = (torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g)
          * 0.5).clamp(-1, 1)
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        t = torch.randint(0, 1000, (batch,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        opt.zero_grad()
        R.training_loss(model, x0, t, noise).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(0.9999).add_(p, alpha=1e-4)
    ms = (time.perf_counter() - t0) * 1e3 / steps
    print(json.dumps({"impl": "pytorch", "backend": f"torch {torch.__version__} cpu, 2 threads",
                      "config": cfg.name, "batch": batch, "steps": steps,
                      "ms_per_step": round(ms, 2), "images_per_s": round(batch * 1e3 / ms, 2)}))


if __name__ == "__main__":
    main()
