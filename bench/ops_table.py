#!/usr/bin/env python3
"""Markdown table of bench/ops.sh's runs: ops_table.py DIR [ALT_LABEL [VK_ALT_LABEL]].
DIR holds cpu.N, alt.N, vulkan.N, vkalt.N and torch.N (bench/ops output, one per round;
alt and vkalt optional) and info."""
import glob
import os
import statistics
import sys


def load(directory, prefix):
    """{case: [gflops per round]} and the backend lines, from DIR/prefix.*"""
    values, backends = {}, []
    for path in sorted(glob.glob(os.path.join(directory, prefix + ".*"))):
        with open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if line.startswith("# backend"):
                    backends.append(fields[1])
                elif len(fields) == 3:
                    values.setdefault(fields[0], []).append(float(fields[1]))
    return values, backends


def main():
    directory = sys.argv[1]
    alt_label = sys.argv[2] if len(sys.argv) > 2 else "cpu (alt env)"
    vk_alt_label = sys.argv[3] if len(sys.argv) > 3 else "vulkan (alt env)"
    columns = [("cpu", "diffae cpu"), ("alt", alt_label), ("vulkan", "diffae vulkan"),
               ("vkalt", vk_alt_label), ("torch", "PyTorch")]
    data = {}
    for key, _ in columns:
        values, backends = load(directory, key)
        if values:
            data[key] = (values, backends)
    with open(os.path.join(directory, "info")) as f:
        print(f.read().rstrip())
    for key, label in columns:
        if key in data:
            rounds = len(next(iter(data[key][0].values())))
            print(f"# {label}: {data[key][1][0]} ({rounds} rounds)")
    shown = [(k, l) for k, l in columns if k in data]
    ratios = [(k, l) for k, l in shown if k != "torch"]
    header = ["case (GFLOP/s, median)"] + [l for _, l in shown] + \
        [f"{l} / PyTorch" for _, l in ratios]
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    torch_values = data.get("torch", ({}, []))[0]
    for case in data[shown[0][0]][0]:
        row = [case]
        med = {}
        for key, _ in shown:
            v = data[key][0].get(case)
            med[key] = statistics.median(v) if v else None
            row.append(f"{med[key]:.1f}" if v else "-")
        for key, _ in ratios:
            t = med.get("torch")
            row.append(f"{med[key] / t:.2f}" if med[key] and t else "-")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
