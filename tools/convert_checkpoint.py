#!/usr/bin/python3
"""Convert a published Diff-AE PyTorch Lightning checkpoint to a diffae weights file.

    convert_checkpoint.py CKPT --config NAME [--latent-pkl latent.pkl] [--no-latent] [--f16]
                          -o OUT.safetensors

The checkpoint is a dict whose `state_dict` holds `model.*` and `ema_model.*` tensors (plus buffers
such as `x_T`, `conds_mean`, `conds_std` that are ignored or used as latent statistics). The EMA
weights are converted. The tensor set is checked against the reference model built from the
config: a missing, extra or mis-shaped tensor is refused (exit code 2) with a message naming it.
The output follows doc/weights.md: published names, the duplicated `cond_layers.1` copies of
`linear_emb` dropped (after checking they are equal), the config as `diffae.config` metadata.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import types
from typing import Dict, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))

import safetensors_io  # noqa: E402
import diffae_ref as R  # noqa: E402

EXIT_REFUSED = 2


class ConvertError(Exception):
    """A checkpoint that cannot be converted; the message names the offending tensor."""


# --- loading ------------------------------------------------------------------------------------

class _StubMeta(type):
    def __getattr__(cls, name):  # enum members pickled as getattr(EnumClass, "NAME")
        if name.startswith("__"):
            raise AttributeError(name)
        return cls()


class _Stub(metaclass=_StubMeta):
    """Stands in for classes a checkpoint pickles but we do not have (e.g. training configs)."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__["_state"] = state


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_Stub,), {"__module__": module})


_lenient_pickle = types.ModuleType("lenient_pickle")
_lenient_pickle.__dict__.update({k: v for k, v in vars(pickle).items() if not k.startswith("__")})
_lenient_pickle.Unpickler = _LenientUnpickler
_lenient_pickle.load = lambda f, **kw: _LenientUnpickler(f, **kw).load()


def _torch_load(path: str):
    """torch.load on CPU with the lenient unpickler. Some torch builds (Debian's 1.13) ignore
    pickle_module unless weights_only, so torch.serialization's `pickle` is swapped as well."""
    import torch.serialization as ts
    saved = ts.pickle
    ts.pickle = _lenient_pickle
    try:
        return torch.load(path, map_location="cpu", pickle_module=_lenient_pickle)
    finally:
        ts.pickle = saved


def load_checkpoint(path: str) -> dict:
    """torch.load on CPU, tolerating pickled classes that are not importable here."""
    return _torch_load(path)


def load_latent_pickle(path: str) -> dict:
    """latent.pkl of the published code (torch.save'd dict), or a plain pickle."""
    try:
        return _torch_load(path)
    except Exception:  # not a torch file: try a plain pickle
        with open(path, "rb") as f:
            return _LenientUnpickler(f).load()


def _np(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float32)


# --- checks -------------------------------------------------------------------------------------

def _shape(s) -> str:
    return "[" + ", ".join(str(d) for d in s) + "]"


def select_prefix(state_dict: Dict, prefix: str) -> Dict[str, np.ndarray]:
    """Tensors under `prefix` with the prefix removed."""
    out = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not out:
        raise ConvertError(f"no tensors with prefix {prefix!r} in the checkpoint")
    return out


def merge_duplicates(tensors: Dict) -> Dict:
    """Drop latent_net.layers.I.cond_layers.1.* after checking they equal linear_emb.*."""
    out = {}
    for name, value in tensors.items():
        if not R.is_duplicate_name(name):
            out[name] = value
            continue
        twin = name.replace(".cond_layers.1.", ".linear_emb.")
        if twin not in tensors:
            raise ConvertError(f"tensor {name} has no {twin} to match")
        if tuple(value.shape) != tuple(tensors[twin].shape) or \
                not np.array_equal(_np(value), _np(tensors[twin])):
            raise ConvertError(f"tensor {name} differs from {twin} (they must be the same tensor)")
    return out


def check_tensor_set(tensors: Dict, cfg: R.Config):
    """Refuse missing, extra and mis-shaped tensors, naming each (with both shapes)."""
    expected = {k: v for k, v in R.expected_shapes(cfg).items() if not R.is_duplicate_name(k)}
    problems = []
    for name, shape in expected.items():
        if name not in tensors:
            problems.append(f"missing tensor {name} (expected shape {_shape(shape)})")
        elif tuple(tensors[name].shape) != shape:
            problems.append(f"tensor {name} has shape {_shape(tensors[name].shape)} in the "
                            f"checkpoint, the config {cfg.name} expects {_shape(shape)}")
    for name in tensors:
        if name not in expected:
            problems.append(f"unexpected tensor {name} (shape {_shape(tensors[name].shape)}) "
                            f"not in config {cfg.name}")
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ConvertError("tensor set does not match the config:\n  " +
                           "\n  ".join(problems[:20]) + more)


def resolve_config(config: str, tensors: Dict, no_latent: bool) -> R.Config:
    """Preset or JSON config; the latent net is kept only if the checkpoint holds one."""
    cfg = R.get_config(config)
    has_latent = any(k.startswith("latent_net.") for k in tensors)
    if no_latent or not has_latent:
        cfg.latent_net = None
    elif cfg.latent_net is None:
        raise ConvertError(f"the checkpoint has latent_net.* tensors but config {cfg.name} has no "
                           "latent net (use --no-latent to drop them)")
    return cfg


def latent_stats(ckpt: dict, latent_pkl: Optional[str], z: int) -> Optional[Tuple]:
    """(mean [z], std [z]) from --latent-pkl, else the checkpoint's conds_mean/conds_std."""
    sources = []
    if latent_pkl:
        sources.append((latent_pkl, load_latent_pickle(latent_pkl)))
    sources += [("checkpoint state_dict", ckpt.get("state_dict", {})), ("checkpoint", ckpt)]
    for where, d in sources:
        if isinstance(d, dict) and "conds_mean" in d and "conds_std" in d:
            mean, std = _np(d["conds_mean"]).reshape(-1), _np(d["conds_std"]).reshape(-1)
            for n, v in (("conds_mean", mean), ("conds_std", std)):
                if v.shape != (z,):
                    raise ConvertError(f"{where}: {n} has {v.size} values, z_channels is {z}")
                if not np.isfinite(v).all():
                    raise ConvertError(f"{where}: {n} holds NaN or infinity")
            if (std <= 0).any():
                raise ConvertError(f"{where}: conds_std has values <= 0")
            return mean, std
        if where == latent_pkl:
            raise ConvertError(f"{latent_pkl}: no conds_mean/conds_std in it")
    return None


# --- conversion ---------------------------------------------------------------------------------

def convert(ckpt: dict, config: str, latent_pkl: Optional[str] = None, no_latent: bool = False,
            f16: bool = False, prefix: str = "ema_model.") -> Tuple[Dict[str, np.ndarray],
                                                                     Dict[str, str], R.Config]:
    """Checkpoint dict -> (tensors in doc/weights.md form, metadata, config)."""
    sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict):
        raise ConvertError("checkpoint is not a dict with a state_dict")
    tensors = select_prefix(sd, prefix)
    cfg = resolve_config(config, tensors, no_latent)
    if cfg.latent_net is None:
        tensors = {k: v for k, v in tensors.items() if not k.startswith("latent_net.")}
    tensors = merge_duplicates(tensors)
    check_tensor_set(tensors, cfg)
    order = [k for k in R.expected_shapes(cfg) if not R.is_duplicate_name(k)]
    out = {}
    for name in order:
        arr = _np(tensors[name])
        if not np.isfinite(arr).all():
            raise ConvertError(f"tensor {name} holds NaN or infinity")
        out[name] = arr.astype(np.float16) if f16 else arr
    stats = latent_stats(ckpt, latent_pkl, cfg.z_channels)
    if stats is not None:
        out["latent.mean"], out["latent.std"] = stats
    meta = {"diffae.format": "1", "diffae.config": cfg.to_json()}
    return out, meta, cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Latent net: auto-detected. A preset that has one (ffhq128, bedroom128, horse128, "
               "ffhq256, small, tiny_grey) keeps it only when the checkpoint holds latent_net.* "
               "tensors; --no-latent drops them. Latent statistics (latent.mean/latent.std) come "
               "from --latent-pkl, else from conds_mean/conds_std in the checkpoint, else are "
               "omitted. Exit code 2: refused (the message names the tensor).")
    ap.add_argument("ckpt", help="PyTorch Lightning checkpoint (.ckpt)")
    ap.add_argument("--config", required=True,
                    help=f"preset ({', '.join(R.PRESETS)}) or a config .json file")
    ap.add_argument("--latent-pkl", help="latent.pkl with conds_mean and conds_std ([1,z] or [z])")
    ap.add_argument("--no-latent", action="store_true", help="drop the latent net if present")
    ap.add_argument("--prefix", default="ema_model.",
                    help="state_dict prefix to convert (default ema_model.; model. = non-EMA)")
    ap.add_argument("--f16", action="store_true", help="store model tensors as F16")
    ap.add_argument("-o", "--output", required=True, help="output .safetensors")
    args = ap.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.ckpt)
        tensors, meta, cfg = convert(ckpt, args.config, args.latent_pkl, args.no_latent,
                                     args.f16, args.prefix)
    except (ConvertError, KeyError, ValueError) as e:
        msg = e.args[0] if isinstance(e, KeyError) else e
        print(f"convert_checkpoint: {args.ckpt}: refused: {msg}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as e:
        print(f"convert_checkpoint: {e}", file=sys.stderr)
        return 1
    safetensors_io.save(args.output, tensors, meta)
    n = sum(v.size for k, v in tensors.items() if not k.startswith("latent."))
    print(f"{args.output}: config {cfg.name}, {len(tensors)} tensors, {n / 1e6:.1f} M parameters"
          f"{', F16' if args.f16 else ''}, latent net {'yes' if cfg.latent_net else 'no'}, "
          f"latent stats {'yes' if 'latent.mean' in tensors else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
