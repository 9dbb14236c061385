#!/usr/bin/python3
"""Write parity fixtures for the C tests.

    make_fixture.py --config NAME --seed S --outdir DIR [--grads] [--steps 10]

DIR/model.safetensors  a randomised model (every tensor non-trivial, see diffae_ref.randomize),
                       written through the converter's code path (checkpoint dict -> convert);
DIR/fixture.safetensors named inputs and expected outputs, all F32, computed in eval mode (no
                       dropout) by the reference model loaded back from model.safetensors.

Fixture tensors (batch 2; C, H, W, z from the config):
  enc.x0 [2,C,H,W] in [-1,1]            enc.z [2,z] = Enc(x0)
  unet.x_t [2,C,H,W]  unet.t [2] (3, 517)  unet.z_sem [2,z]  unet.eps [2,C,H,W]
  latent.z_t [2,z]  latent.t [2]        latent.out [2,z]                    (latent net only)
  ddim.z_sem [2,z]  ddim.x_T [2,C,H,W]  ddim.x0: N-step DDIM decode, clip on (a random model
      saturates most of it at +-1, so also) ddim.x0_noclip: the same decode without clipping
  invert.x0 [2,C,H,W] (smooth image)  invert.z_sem = Enc(invert.x0)  invert.x_T: N-step inversion
  latent_sample.noise [2,z]  latent_sample.z_norm (normalised)  latent_sample.z (denormalised
      with the file's latent.mean/latent.std)                              (latent net only)
With --grads:
  unet.loss_weight g; L = sum(eps * g): grad.<param> for every UNet parameter, unet.grad_x_t,
      unet.grad_z_sem
  enc.loss_weight gz; L = sum(z * gz): grad.encoder.<...>, enc.grad_x0
  latent.loss_weight gl; L = sum(out * gl): grad.latent_net.<...> (linear_emb names only)
Metadata: diffae.config, fixture.tensors (JSON list), fixture.seed, fixture.steps,
fixture.kept_steps, fixture.notes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import diffae_ref as R  # noqa: E402
import safetensors_io  # noqa: E402
from convert_checkpoint import convert  # noqa: E402
from make_checkpoint import checkpoint_from_model  # noqa: E402

NOTES = ("t is passed as float32 holding integer timesteps of the 1000-step schedule. "
         "DDIM eta 0; decode and inversion clip x0 to [-1,1] and recompute eps from it; "
         "latent sampling does not clip. Coefficients computed in float64, cast to float32. "
         "GroupNorm groups = largest divisor of C not above 32.")


def smooth_image(g, n, c, size):
    """Blurred random image in [-0.9, 0.9]: low-res noise upsampled bilinearly."""
    low = torch.randn(n, c, max(size // 4, 2), max(size // 4, 2), generator=g)
    img = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return 0.9 * img / img.flatten(1).abs().max(1)[0].view(n, 1, 1, 1)


def write_model(cfg_name, seed, outdir):
    """Randomised model -> checkpoint dict -> converter -> model.safetensors; reload it."""
    model = R.build_model(R.get_config(cfg_name), seed, random_all=True)
    tensors, meta, _ = convert(checkpoint_from_model(model, seed), cfg_name)
    path = os.path.join(outdir, "model.safetensors")
    safetensors_io.save(path, tensors, meta)
    tensors, meta = safetensors_io.load(path)
    cfg = R.Config.from_json(meta["diffae.config"])
    return R.from_tensors(cfg, tensors), tensors


def _grads(out, named, loss_weight, prefix, inputs):
    """Gradients of sum(out * loss_weight) w.r.t. named parameters and the given inputs."""
    params = [p for _, p in named]
    grads = torch.autograd.grad((out * loss_weight).sum(), params + [t for _, t in inputs])
    res = {prefix + n: g for (n, _), g in zip(named, grads[:len(params)])}
    res.update({n: g for (n, _), g in zip(inputs, grads[len(params):])})
    return res


def forward_cases(model, g, grads):
    """Encoder, UNet and latent-net single evaluations (and gradients)."""
    cfg, fx = model.cfg, {}
    shape = (2, cfg.in_channels, cfg.image_size, cfg.image_size)
    t = torch.tensor([3.0, 517.0])

    x0 = (torch.rand(shape, generator=g) * 2 - 1).requires_grad_(grads)
    z = model.encoder(x0)
    fx.update({"enc.x0": x0, "enc.z": z})
    if grads:
        fx["enc.loss_weight"] = gz = torch.randn(z.shape, generator=g)
        fx.update(_grads(z, list(model.encoder.named_parameters()), gz, "grad.encoder.",
                         [("enc.grad_x0", x0)]))

    x_t = torch.randn(shape, generator=g).requires_grad_(grads)
    z_sem = torch.randn(2, cfg.z_channels, generator=g).requires_grad_(grads)
    eps = model.eps(x_t, t, z_sem)
    fx.update({"unet.x_t": x_t, "unet.t": t, "unet.z_sem": z_sem, "unet.eps": eps})
    if grads:
        fx["unet.loss_weight"] = gu = torch.randn(eps.shape, generator=g)
        fx.update(_grads(eps, model.unet_parameters(), gu, "grad.",
                         [("unet.grad_x_t", x_t), ("unet.grad_z_sem", z_sem)]))

    if model.latent_net is not None:
        z_t = torch.randn(2, cfg.z_channels, generator=g)
        out = model.latent_net(z_t, t)
        fx.update({"latent.z_t": z_t, "latent.t": t.clone(), "latent.out": out})
        if grads:
            fx["latent.loss_weight"] = gl = torch.randn(out.shape, generator=g)
            fx.update(_grads(out, list(model.latent_net.named_parameters()), gl,
                             "grad.latent_net.", []))
    return fx


def sampling_cases(model, tensors, g, steps):
    """N-step DDIM decode, inversion and latent sampling."""
    cfg, fx = model.cfg, {}
    shape = (2, cfg.in_channels, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        z_sem = model.encoder(torch.rand(shape, generator=g) * 2 - 1)
        x_T = torch.randn(shape, generator=g)
        fx.update({"ddim.z_sem": z_sem, "ddim.x_T": x_T,
                   "ddim.x0": R.ddim_decode(model, z_sem, x_T, steps),
                   "ddim.x0_noclip": R.ddim_decode(model, z_sem, x_T, steps, clip=False)})
        img = smooth_image(g, *shape[:3])
        z_img = model.encoder(img)
        fx.update({"invert.x0": img, "invert.z_sem": z_img,
                   "invert.x_T": R.ddim_invert(model, z_img, img, steps)})
        if model.latent_net is not None:
            noise = torch.randn(2, cfg.z_channels, generator=g)
            mean = torch.from_numpy(tensors["latent.mean"])
            std = torch.from_numpy(tensors["latent.std"])
            z_norm, z = R.sample_latent(model, noise, steps, mean, std)
            fx.update({"latent_sample.noise": noise, "latent_sample.z_norm": z_norm,
                       "latent_sample.z": z})
    return fx


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help=f"preset ({', '.join(R.PRESETS)}) or .json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--grads", action="store_true", help="also write parameter gradients")
    ap.add_argument("--steps", type=int, default=10, help="DDIM steps (default 10)")
    args = ap.parse_args(argv)
    t0 = time.time()
    os.makedirs(args.outdir, exist_ok=True)
    torch.manual_seed(args.seed)
    model, tensors = write_model(args.config, args.seed, args.outdir)
    g = torch.Generator().manual_seed(args.seed + 1)
    with torch.set_grad_enabled(args.grads):
        fx = forward_cases(model, g, args.grads)
    fx.update(sampling_cases(model, tensors, g, args.steps))
    fx = {k: v.detach().float().contiguous() for k, v in fx.items()}
    meta = {"diffae.config": model.cfg.to_json(), "fixture.tensors": json.dumps(list(fx)),
            "fixture.seed": str(args.seed), "fixture.steps": str(args.steps),
            "fixture.kept_steps": json.dumps(R.respace(R.T_TRAIN, args.steps)),
            "fixture.notes": NOTES}
    safetensors_io.save(os.path.join(args.outdir, "fixture.safetensors"), fx, meta)
    print(f"{args.outdir}: {len(fx)} fixture tensors, {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
