"""Compact PyTorch reference of Diffusion Autoencoders (Preechakul et al., CVPR 2022).

Used only to check the numerics of the C/Vulkan code and to benchmark against; it is not part of
the product. Written from doc/DESIGN.md sections 2-3 and doc/weights.md; the state_dict names of
`DiffAE` are exactly those of the published models (see official-state-dict-keys.tsv).

Contents:
  Config, PRESETS                 model configuration (the JSON of doc/weights.md)
  DiffAE                          decoder UNet (top level), .encoder, .latent_net
  init_published, randomize       fresh-training init; all-tensor random init for parity tests
  Diffusion maths                 schedules, respacing, DDIM decode / inversion, latent sampling,
                                  q_sample, training losses
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

LATENT_NET_KEYS = ("num_layers", "hidden_channels", "time_channels", "dropout")


@dataclass
class Config:
    """Model configuration; the fields are exactly the keys of the config JSON in doc/weights.md."""

    name: str = "ffhq64"
    image_size: int = 64
    in_channels: int = 3
    base_channels: int = 64
    channel_mult: List[int] = field(default_factory=lambda: [1, 2, 4, 8])
    enc_channel_mult: List[int] = field(default_factory=lambda: [1, 2, 4, 8, 8])
    num_res_blocks: int = 2
    attn_resolutions: List[int] = field(default_factory=lambda: [16])
    embed_channels: int = 512
    z_channels: int = 512
    dropout: float = 0.1
    latent_net: Optional[Dict] = None

    @classmethod
    def from_dict(cls, d: Dict) -> "Config":
        """Build from a dict; unknown or missing keys are an error (a typo must not pass)."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        missing = sorted(set(names) - set(d))
        if unknown:
            raise ValueError(f"unknown config keys: {unknown}")
        if missing:
            raise ValueError(f"missing config keys: {missing}")
        ln = d["latent_net"]
        if ln is not None:
            bad = sorted(set(ln) ^ set(LATENT_NET_KEYS))
            if bad:
                raise ValueError(f"latent_net keys must be {list(LATENT_NET_KEYS)}, differ in {bad}")
            ln = dict(ln)
        cfg = cls(**{**d, "latent_net": ln})
        cfg.channel_mult = list(cfg.channel_mult)
        cfg.enc_channel_mult = list(cfg.enc_channel_mult)
        cfg.attn_resolutions = list(cfg.attn_resolutions)
        return cfg

    @classmethod
    def from_json(cls, text: str) -> "Config":
        return cls.from_dict(json.loads(text))

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def replace(self, **kw) -> "Config":
        return dataclasses.replace(copy.deepcopy(self), **kw)


def _published(name: str, image: int, base: int, mult, enc_mult, latent: bool = False) -> Config:
    ln = dict(num_layers=10, hidden_channels=2048, time_channels=64, dropout=0.0) if latent else None
    return Config(name=name, image_size=image, in_channels=3, base_channels=base,
                  channel_mult=list(mult), enc_channel_mult=list(enc_mult), num_res_blocks=2,
                  attn_resolutions=[16], embed_channels=512, z_channels=512, dropout=0.1,
                  latent_net=ln)


_M128, _E128 = [1, 1, 2, 3, 4], [1, 1, 2, 3, 4, 4]

#: Published configurations (doc/weights.md) and two small test configurations.
#: The 128 and 256 presets carry the published latent net; a converter drops it when the
#: checkpoint has none (the published ffhq64 model has none).
PRESETS: Dict[str, Config] = {
    "ffhq64": _published("ffhq64", 64, 64, [1, 2, 4, 8], [1, 2, 4, 8, 8]),
    "ffhq128": _published("ffhq128", 128, 128, _M128, _E128, latent=True),
    "bedroom128": _published("bedroom128", 128, 128, _M128, _E128, latent=True),
    "horse128": _published("horse128", 128, 128, _M128, _E128, latent=True),
    "ffhq256": _published("ffhq256", 256, 128, [1, 1, 2, 2, 4, 4], [1, 1, 2, 2, 4, 4, 4],
                          latent=True),
    "small": Config(name="small", image_size=16, in_channels=3, base_channels=16,
                    channel_mult=[1, 2], enc_channel_mult=[1, 2, 2], num_res_blocks=1,
                    attn_resolutions=[8], embed_channels=32, z_channels=32, dropout=0.1,
                    latent_net=dict(num_layers=3, hidden_channels=64, time_channels=16,
                                    dropout=0.0)),
    "tiny_grey": Config(name="tiny_grey", image_size=8, in_channels=1, base_channels=8,
                        channel_mult=[1, 2], enc_channel_mult=[1, 2], num_res_blocks=1,
                        attn_resolutions=[4], embed_channels=16, z_channels=8, dropout=0.1,
                        latent_net=dict(num_layers=2, hidden_channels=16, time_channels=8,
                                        dropout=0.0)),
}


def get_config(name_or_path: str) -> Config:
    """A preset by name, or a config JSON file (path ending in .json)."""
    if name_or_path in PRESETS:
        return copy.deepcopy(PRESETS[name_or_path])
    if name_or_path.endswith(".json"):
        with open(name_or_path) as f:
            return Config.from_json(f.read())
    raise KeyError(f"unknown config {name_or_path!r}; presets: {', '.join(PRESETS)}")


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------

_FACTORY: Dict = {}  # extra constructor kwargs (device='meta' inside meta_init())


@contextlib.contextmanager
def meta_init():
    """Build modules on the meta device (shapes only, no memory, instant): for name/shape checks."""
    old = dict(_FACTORY)
    _FACTORY["device"] = "meta"
    try:
        yield
    finally:
        _FACTORY.clear()
        _FACTORY.update(old)


def norm_groups(c: int) -> int:
    """GroupNorm group count: min(32, C) as in DESIGN.md, generalised to the largest divisor of C
    not above 32 when min(32, C) does not divide C (e.g. 48 channels -> 24 groups; only the small
    test configs hit this, every published width is a multiple of 32)."""
    return max(g for g in range(1, min(32, c) + 1) if c % g == 0)


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 (eps 1e-5)."""

    def __init__(self, c: int):
        super().__init__(norm_groups(c), c, eps=1e-5, **_FACTORY)

    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


def conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, **_FACTORY)


def linear(cin: int, cout: int) -> nn.Linear:
    return nn.Linear(cin, cout, **_FACTORY)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """[cos(t f), sin(t f)] (cos first), f_i = exp(-ln(max_period) i / half), half = dim // 2.
    t is a [N] tensor of (integer-valued) timesteps of the 1000-step schedule; float32 maths."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


def _resample(x: torch.Tensor, mode: Optional[str]) -> torch.Tensor:
    if mode == "down":
        return F.avg_pool2d(x, 2)
    if mode == "up":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    return x


class ResBlock(nn.Module):
    """Residual block. With `cond` (decoder): time scale/shift (AdaGN) and z_sem scale.
    Without (encoder): only the first half, skip(resample(x)) + conv(resample(SiLU(GN(x))))."""

    def __init__(self, cin, cout, emb_ch, z_ch, dropout, resample=None, cond=True):
        super().__init__()
        self.resample, self.cond = resample, cond
        self.in_layers = nn.Sequential(GroupNorm32(cin), nn.SiLU(), conv(cin, cout, 3))
        if cond:
            self.emb_layers = nn.Sequential(nn.SiLU(), linear(emb_ch, 2 * cout))
            self.cond_emb_layers = nn.Sequential(nn.SiLU(), linear(z_ch, cout))
            self.out_layers = nn.Sequential(GroupNorm32(cout), nn.SiLU(), nn.Dropout(dropout),
                                            conv(cout, cout, 3))
        self.skip_connection = nn.Identity() if cin == cout else conv(cin, cout, 1)

    def forward(self, x, emb=None, z=None):
        norm, act, conv_in = self.in_layers
        h = conv_in(_resample(act(norm(x)), self.resample))
        x = _resample(x, self.resample)
        if self.cond:
            ts, tb = self.emb_layers(emb)[:, :, None, None].chunk(2, dim=1)
            zs = self.cond_emb_layers(z)[:, :, None, None]
            norm, act, drop, conv_out = self.out_layers
            h = norm(h)
            h = h * (1 + ts) + tb
            h = h * (1 + zs)
            h = conv_out(drop(act(h)))
        return self.skip_connection(x) + h


class AttentionBlock(nn.Module):
    """Single-head self-attention over the H*W tokens: x + proj_out(attn(qkv(GN(x))))."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = GroupNorm32(c)
        self.qkv = nn.Conv1d(c, 3 * c, 1, **_FACTORY)
        self.proj_out = nn.Conv1d(c, c, 1, **_FACTORY)

    def forward(self, x, emb=None, z=None):
        b, c, hh, ww = x.shape
        xf = x.reshape(b, c, hh * ww)
        q, k, v = self.qkv(self.norm(xf)).split(c, dim=1)
        scale = c ** -0.25
        w = torch.einsum("bct,bcs->bts", q * scale, k * scale)
        w = torch.softmax(w.float(), dim=-1).type(w.dtype)
        a = torch.einsum("bts,bcs->bct", w, v)
        return (xf + self.proj_out(a)).reshape(b, c, hh, ww)


class Block(nn.ModuleList):
    """A list of layers applied in order; ResBlocks and attention get (emb, z), others only h."""

    def forward(self, h, emb=None, z=None):
        for layer in self:
            h = layer(h, emb, z) if isinstance(layer, (ResBlock, AttentionBlock)) else layer(h)
        return h


def _down_path(cfg: Config, mult: Sequence[int], res_block: Callable):
    """Input blocks + middle block of the UNet-style level structure.
    Returns (input_blocks, middle_block, skip channel list, final channels)."""
    ch = cfg.base_channels * mult[0]
    blocks, skips, res = [Block([conv(cfg.in_channels, ch, 3)])], [ch], cfg.image_size
    for level, m in enumerate(mult):
        for _ in range(cfg.num_res_blocks):
            out = cfg.base_channels * m
            layers = [res_block(ch, out, None)]
            ch = out
            if res in cfg.attn_resolutions:
                layers.append(AttentionBlock(ch))
            blocks.append(Block(layers))
            skips.append(ch)
        if level != len(mult) - 1:
            blocks.append(Block([res_block(ch, ch, "down")]))
            skips.append(ch)
            res //= 2
    middle = Block([res_block(ch, ch, None), AttentionBlock(ch), res_block(ch, ch, None)])
    return nn.ModuleList(blocks), middle, skips, ch


class TimeEmbed(nn.Module):
    """Holder so the decoder's names read time_embed.time_embed.{0,2}."""

    def __init__(self, cin: int, cemb: int):
        super().__init__()
        self.time_embed = nn.Sequential(linear(cin, cemb), nn.SiLU(), linear(cemb, cemb))

    def forward(self, t_emb):
        return self.time_embed(t_emb)


class Encoder(nn.Module):
    """Semantic encoder z_sem = Enc(x0): [N, C, H, W] -> [N, z]."""

    def __init__(self, cfg: Config):
        super().__init__()

        def res_block(cin, cout, resample):
            return ResBlock(cin, cout, 0, 0, 0.0, resample, cond=False)

        self.input_blocks, self.middle_block, _, ch = _down_path(cfg, cfg.enc_channel_mult,
                                                                 res_block)
        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Conv2d(ch, cfg.z_channels, 1, **_FACTORY), nn.Flatten())

    def forward(self, x):
        h = x
        for block in self.input_blocks:
            h = block(h)
        return self.out(self.middle_block(h))


class LatentLayer(nn.Module):
    """One latent-net layer: h = Linear(h); if not last: SiLU(LayerNorm(h * (1 + c))), dropout.
    `linear_emb` is registered twice (also as cond_layers.1), as in the published state_dict."""

    def __init__(self, cin, cout, z_ch, last, dropout):
        super().__init__()
        self.last = last
        self.linear = linear(cin, cout)
        if not last:
            self.linear_emb = linear(z_ch, cout)
            self.cond_layers = nn.Sequential(nn.SiLU(), self.linear_emb)
            self.norm = nn.LayerNorm(cout, eps=1e-5, **_FACTORY)
            self.act = nn.SiLU()
            self.dropout = nn.Dropout(dropout)

    def forward(self, h, temb):
        h = self.linear(h)
        if not self.last:
            h = h * (1 + self.cond_layers(temb))
            h = self.dropout(self.act(self.norm(h)))
        return h


class LatentNet(nn.Module):
    """Latent DDIM denoiser eps(z_t, t) on normalised z_sem (MLP with skip inputs)."""

    def __init__(self, cfg: Config):
        super().__init__()
        ln, z = cfg.latent_net, cfg.z_channels
        self.time_channels = ln["time_channels"]
        self.time_embed = nn.Sequential(linear(self.time_channels, z), nn.SiLU(), linear(z, z))
        hid, n = ln["hidden_channels"], ln["num_layers"]
        self.layers = nn.ModuleList(
            LatentLayer(z if i == 0 else hid + z, z if i == n - 1 else hid, z, i == n - 1,
                        ln["dropout"]) for i in range(n))

    def forward(self, z_t, t):
        temb = self.time_embed(timestep_embedding(t, self.time_channels))
        h = z_t
        for i, layer in enumerate(self.layers):
            if i > 0:
                h = torch.cat([h, z_t], dim=1)
            h = layer(h, temb)
        return h


class DiffAE(nn.Module):
    """The whole model. The decoder UNet lives at the top level (published names), then
    `encoder` and, when configured, `latent_net`. forward(x_t, t, z_sem) == eps(...)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = copy.deepcopy(cfg)
        emb, z, drop = cfg.embed_channels, cfg.z_channels, cfg.dropout

        def res_block(cin, cout, resample):
            return ResBlock(cin, cout, emb, z, drop, resample, cond=True)

        self.time_embed = TimeEmbed(cfg.base_channels, emb)
        self.input_blocks, self.middle_block, skips, ch = _down_path(cfg, cfg.channel_mult,
                                                                     res_block)
        self.output_blocks = self._up_path(cfg, skips, ch, res_block)
        base0 = cfg.base_channels * cfg.channel_mult[0]
        self.out = nn.Sequential(GroupNorm32(base0), nn.SiLU(), conv(base0, cfg.in_channels, 3))
        self.encoder = Encoder(cfg)
        self.latent_net = LatentNet(cfg) if cfg.latent_net is not None else None

    @staticmethod
    def _up_path(cfg, skips, ch, res_block):
        blocks, skips = [], list(skips)
        res = cfg.image_size >> (len(cfg.channel_mult) - 1)
        for level in reversed(range(len(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks + 1):
                out = cfg.base_channels * cfg.channel_mult[level]
                layers = [res_block(ch + skips.pop(), out, None)]
                ch = out
                if res in cfg.attn_resolutions:
                    layers.append(AttentionBlock(ch))
                if level > 0 and i == cfg.num_res_blocks:
                    layers.append(res_block(ch, ch, "up"))
                    res *= 2
                blocks.append(Block(layers))
        return nn.ModuleList(blocks)

    def eps(self, x_t, t, z_sem):
        """Decoder UNet: predicted noise for x_t [N,C,H,W] at timesteps t [N], given z_sem [N,z]."""
        emb = self.time_embed(timestep_embedding(t, self.cfg.base_channels))
        hs, h = [], x_t
        for block in self.input_blocks:
            h = block(h, emb, z_sem)
            hs.append(h)
        h = self.middle_block(h, emb, z_sem)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb, z_sem)
        return self.out(h)

    forward = eps

    def encode(self, x0):
        return self.encoder(x0)

    # --- parameter groups -------------------------------------------------------------------
    def unet_parameters(self):
        """(name, parameter) of the decoder UNet only."""
        return [(n, p) for n, p in self.named_parameters()
                if not n.startswith(("encoder.", "latent_net."))]


def count_params(named) -> int:
    return sum(p.numel() for _, p in named)


def param_counts(model: DiffAE) -> Dict[str, int]:
    """Parameter counts of the three networks (latent net: shared linear_emb counted once)."""
    return {
        "unet": count_params(model.unet_parameters()),
        "encoder": count_params(model.encoder.named_parameters()),
        "latent_net": (count_params(model.latent_net.named_parameters())
                       if model.latent_net is not None else 0),
    }


# ---------------------------------------------------------------------------------------------
# Initialisation and weight loading
# ---------------------------------------------------------------------------------------------

def init_published(model: DiffAE) -> DiffAE:
    """Fresh-training init: PyTorch default init (done by the constructors), then zero the second
    conv of every decoder ResBlock (out_layers.3), every attention proj_out (decoder and encoder)
    and the decoder's output conv (out.2)."""
    with torch.no_grad():
        for name, mod in model.named_modules():
            if name.startswith("latent_net"):
                continue
            if isinstance(mod, ResBlock) and mod.cond:
                _zero(mod.out_layers[3])
            elif isinstance(mod, AttentionBlock):
                _zero(mod.proj_out)
        _zero(model.out[2])
    return model


def _zero(m: nn.Module):
    for p in m.parameters():
        p.zero_()


def randomize(model: nn.Module, seed: int, scale: float = 1.0) -> nn.Module:
    """Give every tensor non-trivial random values (for parity tests), deterministic in seed:
    conv/linear weight ~ scale * U(-1,1)/sqrt(fan_in), bias ~ scale * U(-0.1, 0.1);
    norm gamma ~ 1 + U(-0.2, 0.2), beta ~ U(-0.2, 0.2). Shared tensors are drawn once."""
    g = torch.Generator().manual_seed(seed)

    def unif(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)

    with torch.no_grad():
        seen = set()
        for _, mod in model.named_modules():
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            if isinstance(mod, (nn.GroupNorm, nn.LayerNorm)):
                unif(mod.weight, 0.8, 1.2)
                unif(mod.bias, -0.2, 0.2)
            elif isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                bound = scale / math.sqrt(mod.weight[0].numel())
                unif(mod.weight, -bound, bound)
                unif(mod.bias, -0.1 * scale, 0.1 * scale)
    return model


def build_model(cfg: Config, seed: Optional[int] = None, random_all: bool = False,
                scale: float = 1.0) -> DiffAE:
    """A DiffAE in eval mode: published init (seeded), or randomize()d when random_all."""
    if seed is not None:
        torch.manual_seed(seed)
    model = init_published(DiffAE(cfg))
    if random_all:
        randomize(model, 0 if seed is None else seed, scale)
    return model.eval()


def expected_shapes(cfg: Config) -> Dict[str, tuple]:
    """Published state_dict names -> shapes for cfg (in state_dict order), without allocating."""
    with meta_init():
        model = DiffAE(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def is_duplicate_name(name: str) -> bool:
    """True for latent_net.layers.I.cond_layers.1.* (the second name of linear_emb)."""
    return name.startswith("latent_net.layers.") and ".cond_layers.1." in name


def from_tensors(cfg: Config, tensors: Dict[str, np.ndarray]) -> DiffAE:
    """A DiffAE holding the given weights (diffae file names: no cond_layers.1 copies needed).
    Extra tensors such as latent.mean are ignored here; missing model tensors are an error."""
    model = DiffAE(cfg)
    sd = {}
    for name in model.state_dict():
        src = name.replace(".cond_layers.1.", ".linear_emb.") if is_duplicate_name(name) else name
        if src not in tensors:
            raise KeyError(f"missing tensor {src}")
        sd[name] = torch.from_numpy(np.asarray(tensors[src], dtype=np.float32).copy())
    model.load_state_dict(sd)
    return model.eval()


# ---------------------------------------------------------------------------------------------
# Diffusion maths (DESIGN.md section 3). Coefficients in float64, cast to float32 per step.
# ---------------------------------------------------------------------------------------------

T_TRAIN = 1000


def linear_betas(T: int = T_TRAIN) -> np.ndarray:
    """Decoder schedule: linspace(1e-4, 0.02, T) in float64."""
    return np.linspace(1e-4, 0.02, T, dtype=np.float64)


def const_betas(T: int = T_TRAIN, beta: float = 0.008) -> np.ndarray:
    """Latent-net schedule: constant beta 0.008."""
    return np.full(T, beta, dtype=np.float64)


def alphas_cumprod(betas: np.ndarray) -> np.ndarray:
    return np.cumprod(1.0 - betas)


def respace(T: int, n: int) -> List[int]:
    """Kept steps for N-step sampling: smallest stride s with len(range(0, T, s)) == n."""
    for s in range(1, T + 1):
        if len(range(0, T, s)) == n:
            return list(range(0, T, s))
    raise ValueError(f"cannot respace {T} steps to {n}")


def _f32(v: float) -> torch.Tensor:
    return torch.tensor(np.float32(v))


def _t(step: int, n: int) -> torch.Tensor:
    return torch.full((n,), float(step), dtype=torch.float32)


class DDIM:
    """Deterministic DDIM (eta 0) over the respaced steps of a T-step schedule.
    model_fn(x, t) -> eps_hat, with t the original (un-respaced) timestep as a float [N] tensor."""

    def __init__(self, betas: np.ndarray, n_steps: int):
        abar = alphas_cumprod(betas)
        self.steps = respace(len(betas), n_steps)
        self.abar = abar[self.steps]  # float64, at the kept steps

    def _pred_x0(self, k, x, eps_hat, clip):
        a = self.abar[k]
        c1, c2 = _f32(math.sqrt(1.0 / a)), _f32(math.sqrt(1.0 / a - 1.0))
        x0 = c1 * x - c2 * eps_hat
        if clip:
            x0 = x0.clamp(-1, 1)
        eps = (c1 * x - x0) / c2  # recomputed from the (clipped) x0
        return x0, eps

    @staticmethod
    def _combine(a_other, x0, eps):
        return _f32(math.sqrt(a_other)) * x0 + _f32(math.sqrt(1.0 - a_other)) * eps

    @torch.no_grad()
    def sample(self, model_fn, x_T, clip: bool = True):
        """x_T -> x0, kept steps in decreasing order; abar_prev = 1 before the first kept step."""
        x = x_T
        for k in reversed(range(len(self.steps))):
            eps_hat = model_fn(x, _t(self.steps[k], x.shape[0]))
            x0, eps = self._pred_x0(k, x, eps_hat, clip)
            x = self._combine(self.abar[k - 1] if k > 0 else 1.0, x0, eps)
        return x

    @torch.no_grad()
    def invert(self, model_fn, x0_img, clip: bool = True, start: int = 0,
               stop: Optional[int] = None):
        """Stochastic encoder x0 -> x_T over the same kept steps in increasing order;
        abar_next = 0 after the last kept step (so x_T is the last eps).
        start/stop run only the moves from kept step start to stop (default: all of them), x0_img
        then being the state at kept step start; the result is the state at kept step stop."""
        x = x0_img
        n = len(self.steps)
        for k in range(start, n if stop is None else stop):
            eps_hat = model_fn(x, _t(self.steps[k], x.shape[0]))
            x0, eps = self._pred_x0(k, x, eps_hat, clip)
            x = self._combine(self.abar[k + 1] if k + 1 < n else 0.0, x0, eps)
        return x


def ddim_decode(model: DiffAE, z_sem, x_T, n_steps: int, clip: bool = True):
    """Decode (z_sem, x_T) -> image with N-step DDIM on the linear schedule."""
    return DDIM(linear_betas(), n_steps).sample(lambda x, t: model.eps(x, t, z_sem), x_T, clip)


def ddim_invert(model: DiffAE, z_sem, x0, n_steps: int, clip: bool = True):
    """Stochastic encoder: (x0, z_sem) -> x_T with N-step DDIM inversion.
    clip=True: x0 predictions are clipped exactly as in decoding (published default)."""
    return DDIM(linear_betas(), n_steps).invert(lambda x, t: model.eps(x, t, z_sem), x0, clip)


def sample_latent(model: DiffAE, noise, n_steps: int, mean=None, std=None):
    """Latent DDIM sampling of normalised z_sem from noise [N, z] on the constant-0.008 schedule.
    No clipping of the x0 prediction (latents are not bounded to [-1, 1]; published
    latent_clip_sample = False). Returns (z_normalised, z) with z = z_norm * std + mean
    (z = z_norm when mean/std are None)."""
    z_norm = DDIM(const_betas(), n_steps).sample(model.latent_net, noise, clip=False)
    if mean is None:
        return z_norm, z_norm
    return z_norm, z_norm * std + mean


def q_sample(abar: np.ndarray, x0, t: torch.Tensor, noise):
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, per-sample t (coefficients f64 -> f32)."""
    a = abar[t.long().numpy()]
    ca = torch.from_numpy(np.sqrt(a).astype(np.float32)).view(-1, *[1] * (x0.dim() - 1))
    cb = torch.from_numpy(np.sqrt(1.0 - a).astype(np.float32)).view(-1, *[1] * (x0.dim() - 1))
    return ca * x0 + cb * noise


def training_loss(model: DiffAE, x0, t, noise):
    """Autoencoder loss: mean((eps - eps_hat)^2), z_sem = Enc(x0), x_t = q_sample(x0, t, eps)."""
    x_t = q_sample(alphas_cumprod(linear_betas()), x0, t, noise)
    return ((noise - model.eps(x_t, t.float(), model.encoder(x0))) ** 2).mean()


def latent_loss(model: DiffAE, z_norm, t, noise):
    """Latent-net loss: mean(|eps - eps_hat|) on normalised z_sem, constant-0.008 schedule."""
    z_t = q_sample(alphas_cumprod(const_betas()), z_norm, t, noise)
    return (noise - model.latent_net(z_t, t.float())).abs().mean()


def slerp(a, b, alpha: float):
    """Spherical interpolation of flattened x_T (DESIGN.md section 1)."""
    af, bf = a.flatten(1), b.flatten(1)
    theta = torch.arccos((af * bf).sum(1) / (af.norm(dim=1) * bf.norm(dim=1)))[:, None]
    out = (torch.sin((1 - alpha) * theta) * af + torch.sin(alpha * theta) * bf) / torch.sin(theta)
    return out.view_as(a)
