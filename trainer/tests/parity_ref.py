#!/usr/bin/python3
"""PyTorch side of the trainer's one-step parity test (trainer/tests/test_parity.sh).

  parity_ref.py init  --config NAME|FILE --dropout0 --seed S --batch N [--steps K] MODEL INPUTS
      writes MODEL, a diffae model file whose every tensor is random and non-zero
      (diffae_ref.randomize: with the published zero init most gradients would be exactly 0),
      and INPUTS, the given randomness of K steps (batch, timesteps, noise, flips).
  parity_ref.py check --lr .. --beta1 .. --beta2 .. --eps .. --weight-decay .. [--adamw]
                      --grad-clip .. --ema-decay .. MODEL INPUTS CHECKPOINT LOSSES
      runs the same K steps with torch.optim.Adam/AdamW, clip_grad_norm_ and an EMA, in float64
      (so the reference's own rounding does not count against the C code), and compares with
      the C trainer's CHECKPOINT (weights, EMA, Adam moments) and LOSSES (one per line).

Comparison, per tensor, of the C results with the reference after one step: the loss; the
update of the weights (p_1 - p_0) and of the EMA (ema_1 - p_0), as max |c - ref| / max |ref|
over the tensor, less one float32 ulp of the stored weight (a weight near 1 is only known to
1.2e-7, against EMA updates of 1e-4); Adam's moments m = (1 - beta1) g and v = (1 - beta2) g^2
(g the clipped gradient), the same way.

Why floors: in configs whose GroupNorms have one channel per group (every width <= 32, so the
test configs), a bias that is added to the residual stream has a gradient that is exactly zero
mathematically (GroupNorm removes a per-channel constant on every path). Computed in float32 it
is rounding noise (~1e-9), in the float64 reference ~1e-17, so comparing such a tensor with its
own scale is meaningless: tensors whose reference gradient is below 1e-10 of the model's largest
are checked instead to have a C gradient below 1e-6 of it ("zero_grad", reported x 1e-3 so that
it reads against the same tolerance).
Adam turns any non-zero gradient into an update of lr * g / (|g| + eps): the sign of such noise
decides the update, and for small |g| the update still moves by lr * eps * dg / g^2 with the
float32 rounding dg of the gradient (measured at ~1e-9..1e-8 absolute, from sums with
cancellation). Elements whose reference gradient is below 1e-5 of the model's largest gradient
(~1.5e-6 here, 150 eps, where that term drops below 1e-4 lr) are left out of the update and EMA
comparisons and counted (3% of `small`'s elements, the structurally-zero ones included).
Exit status 1 when anything is above the tolerance (1e-3)."""
import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
sys.path.insert(0, os.path.join(TOOLS, "reference"))
sys.path.insert(0, TOOLS)

try:
    import numpy as np
    import torch
except ImportError as e:  # the test is skipped without PyTorch
    print(f"no PyTorch: {e}", file=sys.stderr)
    sys.exit(77)

import diffae_ref as R  # noqa: E402
import safetensors_io  # noqa: E402

TOL = 1e-3
GRAD_FLOOR = 1e-5   # of the largest |gradient| in the model: elements left out of updates
ZERO_GRAD = 1e-10   # of the largest |gradient|: a tensor whose gradient is structurally zero
ZERO_NOISE = 1e-6   # of the largest |gradient|: what float32 rounding may leave there


def load_config(arg, dropout0):
    cfg = R.get_config(arg)
    cfg.latent_net = None  # the autoencoder phase: a pure autoencoder file
    if dropout0:
        cfg.dropout = 0.0
    return cfg


def file_names(cfg):
    """Parameter names in the C list order (state_dict order, no cond_layers.1 copies)."""
    return [n for n in R.expected_shapes(cfg) if not R.is_duplicate_name(n)]


def cmd_init(args):
    cfg = load_config(args.config, args.dropout0)
    torch.manual_seed(args.seed)
    model = R.randomize(R.DiffAE(cfg), args.seed)
    sd = model.state_dict()
    tensors = {n: sd[n].float().contiguous() for n in file_names(cfg)}
    safetensors_io.save(args.model, tensors, {"diffae.format": "1",
                                              "diffae.config": cfg.to_json()})
    g = torch.Generator().manual_seed(args.seed + 1)
    shape = (args.batch, cfg.in_channels, cfg.image_size, cfg.image_size)
    inputs = {}
    for k in range(args.steps):
        inputs[f"batch.{k}"] = torch.rand(shape, generator=g) * 2 - 1
        inputs[f"t.{k}"] = torch.randint(0, 1000, (args.batch,), generator=g).float()
        inputs[f"noise.{k}"] = torch.randn(shape, generator=g)
        inputs[f"flip.{k}"] = torch.randint(0, 2, (args.batch,), generator=g).float()
    safetensors_io.save(args.inputs, inputs)


def use_float64():
    """The reference computes the time embedding and GroupNorm in float32 on purpose (as the
    published code); for a float64 reference both follow the model's dtype instead."""
    f32_embedding = R.timestep_embedding
    R.timestep_embedding = lambda t, dim, **kw: f32_embedding(t.double(), dim, **kw).double()
    R.GroupNorm32.forward = torch.nn.GroupNorm.forward
    torch.set_default_dtype(torch.float64)


def reference_run(args, cfg, tensors, inputs, steps):
    use_float64()
    model = R.from_tensors(cfg, tensors).double().train()
    named = [(n, p) for n, p in model.named_parameters() if not n.startswith("latent_net.")]
    params = [p for _, p in named]
    opt_class = torch.optim.AdamW if args.adamw else torch.optim.Adam
    opt = opt_class(params, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps,
                    weight_decay=args.weight_decay)
    ema = [p.detach().clone() for p in params]
    losses, grads = [], []
    for k in range(steps):
        x0 = torch.from_numpy(inputs[f"batch.{k}"]).double()
        flip = torch.from_numpy(inputs[f"flip.{k}"]) > 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(3), x0)
        t = torch.from_numpy(inputs[f"t.{k}"])
        noise = torch.from_numpy(inputs[f"noise.{k}"]).double()
        opt.zero_grad()
        loss = R.training_loss(model, x0, t, noise)
        loss.backward()
        grads.append([p.grad.detach().clone() for p in params])
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, args.grad_clip)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(args.ema_decay).add_(p, alpha=1 - args.ema_decay)
        losses.append(loss.item())
    state = [opt.state[p] for p in params]
    return named, ema, state, losses, grads


def split_flat(flat, names, shapes):
    out, offset = {}, 0
    for n in names:
        size = int(np.prod(shapes[n]))
        out[n] = flat[offset:offset + size].reshape(shapes[n])
        offset += size
    assert offset == flat.size, (offset, flat.size)
    return out


def c_results(cfg, ckpt):
    tensors, meta = safetensors_io.load(ckpt)
    names = file_names(cfg)
    shapes = R.expected_shapes(cfg)
    dec = [n for n in names if not n.startswith("encoder.")]
    enc = [n for n in names if n.startswith("encoder.")]
    out = {}
    for part in ("param", "ema", "adam_m", "adam_v"):
        d = split_flat(tensors[f"decoder.{part}"], dec, shapes)
        d.update(split_flat(tensors[f"encoder.{part}"], enc, shapes))
        out[part] = d
    return out, int(meta["step"])


def rel_err(c, ref, mask=None, floor=0.0, stored=None):
    """max |c - ref| / max(max |ref|, floor). stored: the float32 values the differences were
    taken from (weights, EMA); their rounding (one ulp) is not counted as an error."""
    c, ref = np.asarray(c, np.float64), np.asarray(ref, np.float64)
    slack = np.zeros_like(ref) if stored is None else \
        np.spacing(np.abs(np.asarray(stored, np.float32))).astype(np.float64)
    if mask is not None:
        c, ref, slack = c[mask], ref[mask], slack[mask]
    if ref.size == 0:
        return 0.0
    scale = max(np.abs(ref).max(), floor)
    diff = np.maximum(np.abs(c - ref) - slack, 0).max()
    return float(diff / scale) if scale > 0 else float(diff)


def compare(args, named, ema, state, grads, c):
    """Worst relative error (and its tensor) of each quantity; elements left out."""
    p0 = {n: np.asarray(v, np.float64) for n, v in args.tensors.items()}
    g_all = max(float(g[i].abs().max()) for g in grads for i in range(len(named)))
    worst, floored, total, zero_tensors = {}, 0, 0, []
    for i, (n, p) in enumerate(named):
        g_max = np.stack([np.abs(g[i].numpy()) for g in grads]).max(0)
        mask = g_max >= GRAD_FLOOR * g_all
        floored += int((~mask).sum())
        total += mask.size
        checks = {
            "update": rel_err(c["param"][n] - p0[n], p.detach().numpy() - p0[n], mask,
                              stored=c["param"][n]),
            "ema": rel_err(c["ema"][n] - p0[n], ema[i].numpy() - p0[n], mask,
                           stored=c["ema"][n]),
        }
        if g_max.max() < ZERO_GRAD * g_all:
            # m = (1 - beta1) g: the C gradient must be rounding noise, small against the model's
            m_noise = np.abs(c["adam_m"][n]).max() / (1 - args.beta1) / (ZERO_NOISE * g_all)
            checks["zero_grad"] = float(m_noise) * TOL
            zero_tensors.append(n)
        else:
            checks["adam_m"] = rel_err(c["adam_m"][n], state[i]["exp_avg"].numpy())
            checks["adam_v"] = rel_err(c["adam_v"][n], state[i]["exp_avg_sq"].numpy())
        for what, err in checks.items():
            if err > worst.get(what, (-1, ""))[0]:
                worst[what] = (err, n)
    print(f"{len(zero_tensors)} tensors have a structurally zero gradient (below {ZERO_GRAD:g} of "
          f"the largest in float64); their C gradient must stay below {ZERO_NOISE:g} of it "
          f"(zero_grad: largest / that bound x {TOL:g})")
    return worst, floored, total


def cmd_check(args):
    tensors, meta = safetensors_io.load(args.model)
    cfg = R.Config.from_json(meta["diffae.config"])
    inputs, _ = safetensors_io.load(args.inputs)
    c, steps = c_results(cfg, args.checkpoint)
    args.tensors = tensors
    named, ema, state, losses, grads = reference_run(args, cfg, tensors, inputs, steps)
    c_losses = [float(x) for x in open(args.losses).read().split()]
    ok = True
    for k, (a, b) in enumerate(zip(c_losses, losses)):
        err = abs(a - b) / abs(b)
        print(f"step {k + 1}: loss C {a:.7f} torch {b:.7f} rel err {err:.2e}")
        ok &= err <= TOL
    worst, floored, total = compare(args, named, ema, state, grads, c)
    for what, (err, name) in worst.items():
        print(f"{what:7s} max rel err {err:.2e} (worst tensor {name})")
        ok &= err <= TOL
    print(f"{floored} of {total} elements below the gradient floor ({GRAD_FLOOR:g} of the "
          f"largest gradient) left out of the update/EMA comparison")
    print(json.dumps({"steps": steps, "ok": bool(ok),
                      "max_rel_err": {k: v[0] for k, v in worst.items()}}))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("init")
    i.add_argument("--config", required=True)
    i.add_argument("--dropout0", action="store_true")
    i.add_argument("--seed", type=int, default=1)
    i.add_argument("--batch", type=int, default=4)
    i.add_argument("--steps", type=int, default=1)
    i.add_argument("model")
    i.add_argument("inputs")
    c = sub.add_parser("check")
    for name, default in (("lr", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8),
                          ("weight-decay", 0.0), ("grad-clip", 1.0), ("ema-decay", 0.9)):
        c.add_argument("--" + name, type=float, default=default)
    c.add_argument("--adamw", action="store_true")
    for name in ("model", "inputs", "checkpoint", "losses"):
        c.add_argument(name)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.cmd == "init":
        cmd_init(args)
        return 0
    return cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
