"""Adam/AdamW steps with torch.optim (PyTorch 1.13), for test_train's cross-check.

Usage: torch_adam.py IN OUT. IN (little-endian): int32 n, steps, ncases; per case float32
lr, beta1, beta2, eps, weight_decay, decoupled, grad_scale (0: none); float32 param[n];
float32 grads[steps][n]. OUT: per case float32 param[n], exp_avg[n], exp_avg_sq[n] after
the steps. The gradient is multiplied by grad_scale first, in place, as
torch.nn.utils.clip_grad_norm_ does. Exits with 77 when torch is missing."""
import sys

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"no PyTorch: {e}", file=sys.stderr)
    sys.exit(77)


def run_case(case, param0, grads):
    lr, beta1, beta2, eps, weight_decay, decoupled, grad_scale = (float(x) for x in case)
    p = torch.nn.Parameter(torch.from_numpy(param0.copy()))
    opt_class = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = opt_class([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        if grad_scale:
            p.grad.mul_(torch.tensor(grad_scale, dtype=torch.float32))
        opt.step()
    state = opt.state[p]
    return [p.detach().numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()]


def main(src, dst):
    raw = open(src, "rb").read()
    n, steps, ncases = (int(x) for x in np.frombuffer(raw, np.int32, 3))
    offset = 12
    cases = np.frombuffer(raw, np.float32, 7 * ncases, offset).reshape(ncases, 7)
    offset += 28 * ncases
    param0 = np.frombuffer(raw, np.float32, n, offset)
    offset += 4 * n
    grads = np.frombuffer(raw, np.float32, steps * n, offset).reshape(steps, n)
    out = []
    for case in cases:
        out += run_case(case, param0, grads)
    np.concatenate(out).astype("<f4").tofile(dst)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1], sys.argv[2])
