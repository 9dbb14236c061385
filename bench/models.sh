#!/bin/sh
# Whole networks (doc/performance.md, "Whole networks"): diffae's CPU backend (the environment
# as found, and again with its matrix products on OpenBLAS, DIFFAE_SGEMM=openblas), PyTorch CPU (2 threads; as found, and
# again with OMP_WAIT_POLICY=passive, which it needs on a busy machine) and diffae on Vulkan (a
# subset: lavapipe is slow), run alternately case by case for ROUNDS rounds; prints one
# markdown table of medians with the ratio diffae / PyTorch (the faster of its two runs) in
# throughput per row, peak memory and achieved GFLOP/s.
#
#   bench/models.sh [BUILD_DIR [ROUNDS]]          (default: build, 3 rounds)
#
# Environment:
#   MODEL64, MODEL128   model files (.safetensors) of the ffhq64 and ffhq128 configs; MODEL64
#                       is made with random weights (tools/reference/make_checkpoint.py and
#                       tools/convert_checkpoint.py, ~30 s) under BUILD_DIR when unset;
#                       MODEL128 defaults to /work/data/ffhq128/ffhq128.safetensors and its
#                       rows are skipped when it is missing
#   TRAIN_CONFIG        the training-step config (default weights/configs/shapes32.json, the shipped colour model), batch 32
#   VULKAN=0            no Vulkan column; VK_CASES: which cases run on Vulkan (default the
#                       ffhq64 UNet step at batch 1 and 8 and the training step)
#   B128_8=1            also the ffhq128 UNet step and encoder at batch 8
#   TORCH_ASIS_SKIP     cases without the PyTorch-as-found run (default the DDIM loops: on a
#                       busy machine its spinning OpenMP threads make them take minutes)
#   ALT_ENV, ALT_LABEL  the second CPU column's environment (default DIFFAE_SGEMM=openblas)
#   ONLY="ID ..."       only these cases (ids: unet64-1 unet64-8 enc64-1 enc64-8 unet128-1
#                       enc128-1 unet128-8 enc128-8 dec10 dec20 inv20 train)
#   RESULTS=FILE        also keep the raw JSON lines
#
# GFLOP/s count 2 per multiply-add: per sample and pass, the ffhq64 UNet 13.4 GMAC, encoder 1.5;
# ffhq128 UNet 73.9, encoder 9.5 (DESIGN.md section 2); a decode is N UNet steps, an inversion
# the encoder and N UNet steps; a training step 3x the forward passes of UNet and encoder (the
# training config's counts come from forward hooks on the reference model, models_torch.py
# --count-macs). Peak memory is each process's peak RSS (weights included; on lavapipe device
# memory is host memory).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
rounds=${2:-3}
python=/usr/bin/python3
models="$build/bench/bench-models"
train="$build/trainer/bench-train"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
alt_env=${ALT_ENV-DIFFAE_SGEMM=openblas}
alt_label=${ALT_LABEL-diffae cpu, $alt_env}
train_config=${TRAIN_CONFIG-$root/weights/configs/shapes32.json}
vk_cases=${VK_CASES-"unet64-1 unet64-8 train"}
torch_skip=${TORCH_ASIS_SKIP-"dec10 dec20 inv20"}
export DIFFAE_QUIET=1

model64=${MODEL64-}
if [ -z "$model64" ]; then
  model64="$build/bench-models-ffhq64.safetensors"
  if [ ! -f "$model64" ]; then
    echo "making $model64 (random weights)" >&2
    "$python" "$root/tools/reference/make_checkpoint.py" --config ffhq64 --seed 1 \
        -o "$out/ffhq64.ckpt" >&2
    "$python" "$root/tools/convert_checkpoint.py" "$out/ffhq64.ckpt" --config ffhq64 \
        -o "$model64" >&2
    rm -f "$out/ffhq64.ckpt"
  fi
fi
model128=${MODEL128-/work/data/ffhq128/ffhq128.safetensors}
tgmac=$("$python" "$here/models_torch.py" "$train_config" --count-macs)

# case id | label | config for PyTorch | model file | what | batch | steps | GMAC per sample
cases="unet64-1|ffhq64 UNet step|ffhq64|$model64|unet|1|1|13.4
unet64-8|ffhq64 UNet step|ffhq64|$model64|unet|8|1|13.4
enc64-1|ffhq64 encoder|ffhq64|$model64|encoder|1|1|1.5
enc64-8|ffhq64 encoder|ffhq64|$model64|encoder|8|1|1.5"
if [ -f "$model128" ]; then
  cases="$cases
unet128-1|ffhq128 UNet step|ffhq128|$model128|unet|1|1|73.9
enc128-1|ffhq128 encoder|ffhq128|$model128|encoder|1|1|9.5"
  if [ "${B128_8-0}" = 1 ]; then
    cases="$cases
unet128-8|ffhq128 UNet step|ffhq128|$model128|unet|8|1|73.9
enc128-8|ffhq128 encoder|ffhq128|$model128|encoder|8|1|9.5"
  fi
fi
cases="$cases
dec10|ffhq64 decode, DDIM N=10|ffhq64|$model64|decode|1|10|13.4
dec20|ffhq64 decode, DDIM N=20|ffhq64|$model64|decode|1|20|13.4
inv20|ffhq64 inversion, N=20 (encoder + 20 steps)|ffhq64|$model64|invert|1|20|13.4
train|training step, $(basename "$train_config")|$train_config||train|32|3|0"

# one JSON line per run: {"case", "impl", ...bench output...}
tag() {
  "$python" -c 'import json, sys
lines = [l for l in sys.stdin.read().splitlines() if l.startswith("{")]
r = json.loads(lines[-1]); r["case"], r["impl"] = sys.argv[1], sys.argv[2]
print(json.dumps(r))' "$1" "$2" >> "$out/results.jsonl"
}

# One JSON line from a training bench's output (its JSON lines merged, with /usr/bin/time's
# peak RSS), in the fields the table reads.
train_row() {
  "$python" -c 'import json, sys
ls = [json.loads(l) for l in sys.stdin if l.startswith("{")]
r = {k: v for d in ls for k, v in d.items()}
r["median_s"] = r["ms_per_step"] / 1e3; r["peak_rss_mib"] = r["peak_rss_kib"] / 1024
r["device"] = r["backend"]; print(json.dumps(r))'
}

run_case() {  # impl case config model what batch steps
  rc_impl=$1 rc_id=$2 rc_cfg=$3 rc_model=$4 rc_what=$5 rc_batch=$6 rc_steps=$7
  # (no local variables in sh: every name here starts with rc_)
  rc_reps=3
  case $rc_what in decode|invert) rc_reps=1 ;; esac
  case $rc_impl in
    cpu|alt|vulkan)
      rc_envs=""; rc_backend=cpu
      [ "$rc_impl" = alt ] && rc_envs=$alt_env
      [ "$rc_impl" = vulkan ] && rc_backend=vulkan && rc_reps=1
      if [ "$rc_what" = train ]; then
        rc_tsteps=$rc_steps; [ "$rc_impl" = vulkan ] && rc_tsteps=1
        # shellcheck disable=SC2086
        env $rc_envs DIFFAE_BACKEND=$rc_backend /usr/bin/time -f '{"peak_rss_kib": %M}' \
            "$train" "$rc_cfg" "$rc_batch" "$rc_tsteps" 1 > "$out/run" 2>&1
        train_row < "$out/run" | tag "$rc_id" "$rc_impl"
      else
        # shellcheck disable=SC2086
        env $rc_envs "$models" "$rc_model" --backend $rc_backend --what "$rc_what" --batch "$rc_batch" \
            --steps "$rc_steps" --reps $rc_reps --warmup 1 | tag "$rc_id" "$rc_impl"
      fi ;;
    torch|torchp)
      rc_envs=""; [ "$rc_impl" = torchp ] && rc_envs=OMP_WAIT_POLICY=passive
      if [ "$rc_what" = train ]; then
        env $rc_envs /usr/bin/time -f '{"peak_rss_kib": %M}' "$python" "$here/train_torch.py" "$rc_cfg" \
            "$rc_batch" "$rc_steps" 1 > "$out/run" 2>&1
        train_row < "$out/run" | tag "$rc_id" "$rc_impl"
      else
        env $rc_envs "$python" "$here/models_torch.py" "$rc_cfg" --what "$rc_what" --batch "$rc_batch" \
            --steps "$rc_steps" --reps $rc_reps --warmup 1 | tag "$rc_id" "$rc_impl"
      fi ;;
  esac
}

echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average at start:" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" > "$out/info"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-(unset)}" \
  "OMP_NUM_THREADS=${OMP_NUM_THREADS-(unset)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY-(unset)}" >> "$out/info"
for r in $(seq "$rounds"); do
  echo "$cases" | while IFS='|' read -r id label cfg model what batch steps gmac; do
    if [ -n "${ONLY-}" ] && ! echo " $ONLY " | grep -q " $id "; then
      continue
    fi
    echo "round $r/$rounds: $label, batch $batch" >&2
    for impl in cpu alt torch torchp vulkan; do
      if [ $impl = vulkan ] && { [ "${VULKAN-1}" = 0 ] || ! echo " $vk_cases " | grep -q " $id "; }; then
        continue
      fi
      if [ $impl = torch ] && echo " $torch_skip " | grep -q " $id "; then
        continue
      fi
      c=${model:-$cfg}
      case $impl in torch*) c=$cfg ;; esac
      run_case $impl "$id" "$c" "$model" "$what" "$batch" "$steps" < /dev/null ||
        echo "failed: $impl $id" >&2
    done
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/info"
echo "$cases" > "$out/cases"
cp "$out/results.jsonl" "${RESULTS-/dev/null}" 2>/dev/null || true

"$python" - "$out" "$alt_label" "$tgmac" <<'EOF'
import json, statistics, sys
out, alt_label, tg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
train_gmac = 3 * (tg["unet_gmac"] + tg["encoder_gmac"])
rows = [l.split("|") for l in open(f"{out}/cases").read().splitlines() if l]
res = [json.loads(l) for l in open(f"{out}/results.jsonl")]
impls = [("cpu", "diffae cpu"), ("alt", alt_label), ("vulkan", "diffae vulkan (lavapipe)"),
         ("torch", "PyTorch"), ("torchp", "PyTorch, OMP_WAIT_POLICY=passive")]
print(open(f"{out}/info").read().rstrip())
print(f"# training step: {tg['unet_gmac']} + {tg['encoder_gmac']} GMAC per sample forward "
      f"(UNet + encoder, {tg['config']}), x3 for forward and backward")
head = "| case | batch |" + "".join(f" {n}: s |" for _, n in impls)
head += " cpu / PyTorch | alt / PyTorch | vulkan / PyTorch | GFLOP/s cpu, alt, vulkan, best PyTorch | peak RSS MiB cpu, alt, vulkan, PyTorch |"
print(head)
print("|---|---:|" + "---:|" * (len(impls) + 5))
devices = {}
done = {r["case"] for r in res}
for id_, label, cfg, model, what, batch, steps, gmac in rows:
    if id_ not in done:
        continue
    batch, steps, gmac = int(batch), int(steps), float(gmac)
    if what == "train":
        gflop = 2 * train_gmac * batch
    elif what == "invert":
        gflop = 2 * batch * (steps * gmac + 1.5)
    else:
        gflop = 2 * gmac * batch * steps
    med, rss = {}, {}
    for key, _ in impls:
        rs = [r for r in res if r["case"] == id_ and r["impl"] == key]
        if rs:
            med[key] = statistics.median(r["median_s"] for r in rs)
            rss[key] = max(r.get("peak_rss_mib", 0) for r in rs)
            devices[key] = rs[-1].get("device", "")
    best = min([med[k] for k in ("torch", "torchp") if k in med], default=None)
    if best is not None:
        med["best"] = best
    cell = lambda k: f"{med[k]:.3f}" if k in med else "-"
    ratio = lambda k: f"{best / med[k]:.2f}" if k in med and best else "-"
    gf = ", ".join(f"{gflop / med[k]:.0f}" if k in med else "-" for k in ("cpu", "alt", "vulkan", "best"))
    mem = ", ".join(f"{rss[k]:.0f}" if k in rss else "-" for k in ("cpu", "alt", "vulkan", "torch"))
    print(f"| {label} | {batch} |" + "".join(f" {cell(k)} |" for k, _ in impls) +
          f" {ratio('cpu')} | {ratio('alt')} | {ratio('vulkan')} | {gf} | {mem} |")
print()
print("Times are medians over the rounds (each run's median of its repetitions). Ratios are the")
print("faster PyTorch's time / diffae's (throughput ratio, > 1: diffae faster). Devices:")
for key, name in impls:
    if key in devices:
        print(f"- {name}: {devices[key]}")
EOF
