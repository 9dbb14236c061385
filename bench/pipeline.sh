#!/bin/sh
# Pipeline throughput (doc/performance.md, "Pipeline throughput"): frames per second of the
# GStreamer elements through gst-launch-1.0 on one model file, per backend:
#
#   encode              videotestsrc ! diffaeencode inversion-steps=0        (z_sem only)
#   encode+inv          videotestsrc ! diffaeencode inversion-steps=N        (z_sem + x_T)
#   encode+decode       videotestsrc ! diffaeencode inversion-steps=0 ! diffaedecode steps=N
#                       noise=fixed                            (decode from z_sem and one x_T)
#   encode+inv+decode   videotestsrc ! diffaeencode inversion-steps=N ! diffaedecode steps=N
#                       noise=from-stream                      (the reconstruction of demo.sh)
#
# each ending in `fakesink sync=false`, and prints one markdown table (backend, case, fps,
# ms/frame, start-up) plus the device and CPU. The decoder alone is not a pipeline of its own
# (it needs latents); its cost per frame is DERIVED, and labelled so, as the difference of the
# ms/frame of two measured pipelines: (encode+decode) - (encode), and (encode+inv+decode) -
# (encode+inv).
#
#   bench/pipeline.sh [BUILD_DIR]          (default: build)
#
# Environment:
#   MODEL      the weights file (default weights/shapes.safetensors of the source tree); the
#              script stops with a message when it does not exist
#   BACKENDS   backends to measure, in order (default "vulkan cpu"; vulkan is lavapipe on a
#              machine without a GPU). Sets the elements' `backend` property, and DIFFAE_BACKEND
#   STEPS      N: DDIM steps of the inversion and of the decoder (default 10; the elements'
#              own default is 20)
#   FRAMES     frames per measured run (default 32, at least 2)
#   ROUNDS     rounds (default 3); every round runs every backend and case once
#   CASES      which pipelines (default "encode encode+inv encode+decode encode+inv+decode")
#   BATCHES    the elements' `batch` property values to measure, in order (default "1"; e.g.
#              "1 8": every backend and case with frames one at a time and in batches of 8)
#
# Method. Each pipeline is run twice per round as separate gst-launch-1.0 processes: with
# videotestsrc num-buffers=1 and with num-buffers=FRAMES; both are timed by the wall clock
# (date +%s.%N around the process). The 1-frame run holds everything that is not per frame
# (process start, plugin and registry, model load, backend and shader set-up, negotiation) and
# one frame; it is reported as "start-up" (median, seconds). Throughput is
#   fps = (FRAMES - 1) / (t_FRAMES - t_1),  ms/frame = 1000 / fps
# with t_1 and t_FRAMES the medians over the rounds, so nothing is subtracted except the
# measured 1-frame run. Input: videotestsrc (default pattern) with caps
# video/x-raw,format=RGB at the model's image size (read from the weights file's config), so no
# converter or scaler runs; grey models read RGB as luma. Each FRAMES run checks that fakesink
# got FRAMES buffers. Progress and per-run times go to stderr; the table to stdout.
#
# The CPU backend runs as the environment says (OPENBLAS_CORETYPE etc.: see "CPU backend: what
# it depends on"); the header lines record it and the load average, which matters on a shared
# machine. Needs gst-launch-1.0, the base plugins (videotestsrc) and /usr/bin/python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
model=${MODEL-$root/weights/shapes.safetensors}
backends=${BACKENDS-vulkan cpu}
steps=${STEPS:-10}
frames=${FRAMES:-32}
rounds=${ROUNDS:-3}
cases=${CASES-encode encode+inv encode+decode encode+inv+decode}
batches=${BATCHES-1}
python=/usr/bin/python3

die() { echo "bench/pipeline.sh: $*" >&2; exit 1; }

if [ ! -f "$model" ]; then
  die "model file $model does not exist: set MODEL to a diffae weights file (.safetensors)"
fi
[ "$frames" -ge 2 ] 2>/dev/null || die "FRAMES must be an integer >= 2 (got '$frames')"
[ "$rounds" -ge 1 ] 2>/dev/null || die "ROUNDS must be an integer >= 1 (got '$rounds')"
[ -f "$build/plugin/libgstdiffae.so" ] ||
  die "no plugin at $build/plugin/libgstdiffae.so: build it first (ninja -C $build)"
command -v gst-launch-1.0 > /dev/null || die "gst-launch-1.0 not found"
for c in $cases; do
  case $c in encode|encode+inv|encode+decode|encode+inv+decode) ;;
    *) die "unknown case '$c' in CASES" ;; esac
done

export GST_PLUGIN_PATH="$build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_DEBUG_NO_COLOR=1
export DIFFAE_QUIET=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# the model's image size, from the config in the file's header (doc/weights.md)
size=$("$python" - "$model" <<'EOF'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n)).get("__metadata__", {})
print(json.loads(meta["diffae.config"])["image_size"])
EOF
) || die "cannot read the config of $model (not a diffae weights file?)"

now() { date +%s.%N; }

# run_pipeline BACKEND BATCH CASE NBUF: one gst-launch-1.0 process; stdout (-v) in
# $out/stdout, stderr in $out/stderr; fails with gst-launch's messages
run_pipeline() {
  rp_be=$1 rp_batch=$2 rp_case=$3 rp_n=$4
  set -- videotestsrc num-buffers="$rp_n" \
    ! "video/x-raw,format=RGB,width=$size,height=$size,framerate=30/1"
  case $rp_case in
    encode|encode+decode)
      set -- "$@" ! diffaeencode model="$model" backend="$rp_be" batch="$rp_batch" \
        inversion-steps=0 ;;
    *)
      set -- "$@" ! diffaeencode model="$model" backend="$rp_be" batch="$rp_batch" \
        inversion-steps="$steps" ;;
  esac
  case $rp_case in
    encode+decode)
      set -- "$@" ! diffaedecode model="$model" backend="$rp_be" batch="$rp_batch" \
        steps="$steps" noise=fixed seed=0 ;;
    encode+inv+decode)
      set -- "$@" ! diffaedecode model="$model" backend="$rp_be" batch="$rp_batch" \
        steps="$steps" noise=from-stream ;;
  esac
  if ! DIFFAE_BACKEND=$rp_be gst-launch-1.0 -v "$@" ! fakesink sync=false silent=false \
      > "$out/stdout" 2> "$out/stderr"; then
    echo "bench/pipeline.sh: pipeline failed ($rp_be, $rp_case, $rp_n frames):" >&2
    grep -v 'last-message = ' "$out/stdout" | tail -n 20 >&2
    cat "$out/stderr" >&2
    exit 1
  fi
  rp_got=$(grep -c 'last-message = chain' "$out/stdout" || true)
  [ "$rp_got" = "$rp_n" ] ||
    die "$rp_be, $rp_case: fakesink got $rp_got buffers, not $rp_n"
}

# timed RESULTFILE BACKEND BATCH CASE NBUF: appends the wall-clock seconds of one run
timed() {
  t0=$(now)
  run_pipeline "$2" "$3" "$4" "$5"
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }' | tee -a "$1"
}

# the header: CPU, devices as the elements report them, environment, load
{
  echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p'), family $(lscpu |
    sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p'), $(nproc) cores;" \
    "flags: $(for f in avx2 avx512f; do grep -qw $f /proc/cpuinfo && printf '%s ' $f; done)"
  if command -v vulkaninfo > /dev/null; then
    echo "# vulkaninfo devices: $(vulkaninfo --summary 2> /dev/null |
      sed -n 's/^[[:space:]]*deviceName *= *//p' | paste -sd ';' -)"
  fi
  echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-(unset)}" \
    "OMP_NUM_THREADS=${OMP_NUM_THREADS-(unset)}"
  echo "# model: $model (${size}x$size); N = $steps DDIM steps; $frames frames per run, rounds:" \
    "$rounds; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/info"
# one untimed 1-frame run per backend (warms the registry and the file cache) that also
# records the backend the elements open (their GST_INFO line)
for be in $backends; do
  echo "warm-up: $be" >&2
  (GST_DEBUG=diffae:4; export GST_DEBUG; run_pipeline "$be" 1 encode 1)
  desc=$(sed -n 's/.*opened backend //p' "$out/stderr" | head -n 1)
  [ -n "$desc" ] || desc="(no 'opened backend' line)"
  echo "# backend $be: $desc" >> "$out/info"
done

for r in $(seq "$rounds"); do
  for be in $backends; do
    for b in $batches; do
      for c in $cases; do
        t_one=$(timed "$out/t.$be.$b.$c.1" "$be" "$b" "$c" 1)
        t_all=$(timed "$out/t.$be.$b.$c.n" "$be" "$b" "$c" "$frames")
        echo "round $r/$rounds: $be batch=$b $c: 1 frame ${t_one} s, $frames frames" \
          "${t_all} s" >&2
      done
    done
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/info"

median() { sort -n "$1" | awk '{ v[NR] = $1 } END {
  if (NR % 2) printf "%.4f", v[(NR + 1) / 2]; else printf "%.4f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cat "$out/info"
echo
echo "| backend | batch | case | fps | ms/frame | start-up (1-frame run), s |"
echo "|---------|------:|------|----:|---------:|--------------------------:|"
for be in $backends; do
  for b in $batches; do
    for c in $cases; do
      t1=$(median "$out/t.$be.$b.$c.1")
      tn=$(median "$out/t.$be.$b.$c.n")
      awk -v be="$be | $b" -v c="$c" -v n="$frames" -v t1="$t1" -v tn="$tn" -v s="$steps" 'BEGIN {
        label["encode"] = "encode, z_sem only (inversion-steps=0)"
        label["encode+inv"] = "encode + inversion, N=" s
        label["encode+decode"] = "encode z_sem + decode N=" s " (noise=fixed)"
        label["encode+inv+decode"] = "encode + inversion N=" s " + decode N=" s " (from-stream)"
        d = tn - t1
        if (d <= 0) printf "| %s | %s | n/a (t_%d <= t_1) | n/a | %.2f |\n", be, label[c], n, t1
        else printf "| %s | %s | %.2f | %.1f | %.2f |\n", be, label[c], (n - 1) / d, 1000 * d / (n - 1), t1
      }'
      echo "$c $t1 $tn" >> "$out/ms.$be.$b"
    done
    # derived decode-only rows: difference of two measured pipelines' ms/frame
    for pair in "encode+decode encode" "encode+inv+decode encode+inv"; do
      # shellcheck disable=SC2086
      set -- $pair
      if grep -q "^$1 " "$out/ms.$be.$b" && grep -q "^$2 " "$out/ms.$be.$b"; then
        awk -v be="$be | $b" -v n="$frames" -v a="$1" -v b="$2" -v s="$steps" '
          { ms[$1] = 1000 * ($3 - $2) / (n - 1) }
          END {
            if (ms[a] <= ms[b])
              printf "| %s | decode N=%s alone, DERIVED (%s - %s) | n/a | n/a | - |\n", be, s, a, b
            else
              printf "| %s | decode N=%s alone, DERIVED (%s - %s) | %.2f | %.1f | - |\n", be, s,
                a, b, 1000 / (ms[a] - ms[b]), ms[a] - ms[b]
          }' "$out/ms.$be.$b"
      fi
    done
  done
done
echo
echo "fps = (FRAMES - 1) / (t_FRAMES - t_1) from the median wall-clock times of a FRAMES-frame"
echo "and a 1-frame gst-launch-1.0 run; start-up is the median 1-frame run (process start to"
echo "exit: plugin, model load, set-up, one frame). DERIVED rows are not measured pipelines:"
echo "their ms/frame is the difference of the two named rows' ms/frame (computed from the"
echo "medians even where a row itself is n/a). n/a: the difference is not positive, i.e. below"
echo "what FRAMES frames resolve on this machine; raise FRAMES."
