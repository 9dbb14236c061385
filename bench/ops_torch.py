#!/usr/bin/python3
"""PyTorch CPU (2 threads) at the cases of bench/ops.c, in its output format:
one line per case, "case<TAB>gflops<TAB>milliseconds", the median of the timed runs.
Run with Debian's /usr/bin/python3 (python3-torch). bench/ops.sh runs it."""
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)

CASES = [("conv3x3 fwd", n, c, c, hw) for c, hw in ((64, 64), (128, 32), (256, 16), (512, 8))
         for n in (1, 8)]
CASES += [("conv3x3 bwd", n, c, c, hw) for c, hw in ((64, 64), (128, 32), (256, 16), (512, 8))
          for n in (1, 8)]
# the shipped 32x32 models' widest and narrowest levels at their training batch (32)
CASES += [(label, 32, c, c, hw) for label in ("conv3x3 fwd", "conv3x3 bwd")
          for c, hw in ((32, 32), (64, 8))]
CASES += [("qkv 1x1", 1, 256, 768, 16), ("qkv 1x1", 8, 256, 768, 16),
          ("proj 1x1", 8, 256, 256, 16), ("qkv 1x1", 8, 512, 1536, 8),
          ("linear", 1, 512, 512, 1), ("linear", 8, 512, 512, 1), ("linear", 64, 512, 512, 1)]
CASES += [(label, n, c, c, hw) for label in ("attention fwd", "attention bwd")
          for n, c, hw in ((1, 256, 16), (8, 256, 16), (8, 512, 8))]


def name(label, n, cin, cout, hw):
    if label == "linear":
        return f"{label} {cin}->{cout} n{n}"
    return f"{label} {hw}x{hw}x{cin}->{cout} n{n}"


def flops(label, n, cin, cout, hw):
    if label.startswith("attention"):
        return (4.0 if label == "attention fwd" else 8.0) * n * (hw * hw) ** 2 * cin
    taps = 9 if label.startswith("conv3x3") else 1
    f = 2.0 * n * cin * cout * taps * (1 if label == "linear" else hw * hw)
    return 2 * f if label == "conv3x3 bwd" else f


def attention(q, k, v):
    """tools/reference's attention core (q, k scaled by C^-1/4 each, softmax in fp32) as two
    batched products, PyTorch's fastest form here (its einsum form was no faster)."""
    w = torch.softmax(torch.bmm(q.transpose(1, 2), k * q.shape[1] ** -0.5), dim=-1)
    return torch.bmm(v, w.transpose(1, 2))


def attention_runner(label, n, c, hw):
    q, k, v = (torch.randn(n, c, hw * hw) for _ in range(3))
    if label == "attention fwd":
        return lambda: attention(q, k, v)
    # the backward alone: the graph is kept and differentiated again at every call
    with torch.enable_grad():
        for t in (q, k, v):
            t.requires_grad_(True)
        y = attention(q, k, v)
    dy = torch.randn_like(y)
    return lambda: torch.autograd.grad(y, (q, k, v), dy, retain_graph=True)


def runner(label, n, cin, cout, hw):
    if label.startswith("attention"):
        return attention_runner(label, n, cin, hw)
    if label == "linear":
        x, w, b = torch.randn(n, cin), torch.randn(cout, cin), torch.randn(cout)
        return lambda: torch.nn.functional.linear(x, w, b)
    k = 3 if label.startswith("conv3x3") else 1
    x, w, b = torch.randn(n, cin, hw, hw), torch.randn(cout, cin, k, k), torch.randn(cout)
    if label == "conv3x3 bwd":
        dy = torch.randn(n, cout, hw, hw)
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, False])
    return lambda: torch.nn.functional.conv2d(x, w, b, padding=k // 2)


def main():
    reps, budget, filt = 5, 3.0, None
    args = sys.argv[1:]
    for i in range(0, len(args) - 1, 2):
        if args[i] == "--reps":
            reps = int(args[i + 1])
        elif args[i] == "--budget":
            budget = float(args[i + 1])
        elif args[i] == "--filter":
            filt = args[i + 1]
    print(f"# backend\tPyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads")
    with torch.no_grad():
        for case in CASES:
            label = name(*case)
            if filt and filt not in label:
                continue
            run = runner(*case)
            run()
            t0 = time.perf_counter()
            run()
            first = time.perf_counter() - t0
            times = []
            for _ in range(max(1, min(reps, int(budget / max(first, 1e-9))))):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(f"{label}\t{flops(*case) / med * 1e-9:.2f}\t{med * 1e3:.3f}", flush=True)


if __name__ == "__main__":
    main()
