#!/bin/sh
# Checkpoints survive kills: a run with a checkpoint every 3 steps is stopped with SIGINT (it
# must save and exit 130, its checkpoint at the step it printed), then SIGKILLed 30 times at
# pseudo-random moments (0.05..0.6 s after each start, seeded). After every kill the last
# checkpoint must load (dae_trainer_load) at a step no earlier than before, and the next
# --resume continues from it. Finally the run is completed and must equal an uninterrupted run
# byte for byte, with no temporary files left behind.
#   test_kill.sh DIFFAE_TRAIN MAKE_DATA CHECKPOINT_INFO WORKDIR
set -eu
train="$1"; make_data="$2"; info="$3"; work="$4"
rm -rf "$work"; mkdir -p "$work"
"$make_data" idx "$work/data.idx" 48 8 1
export DIFFAE_BACKEND=cpu
steps=900
opts="--config tiny_grey --data $work/data.idx --batch 8 --lr 1e-3 --checkpoint-every 3
  --sample-every 0 --log-every 50 --seed 5"
ckpt="$work/run/checkpoint.safetensors"

"$train" autoenc $opts --out "$work/straight" --steps $steps > "$work/straight.log"

# SIGINT: a clean stop with a checkpoint of the last finished step.
"$train" autoenc $opts --out "$work/run" --steps $steps > "$work/int.log" 2>&1 &
pid=$!
while [ ! -f "$ckpt" ]; do sleep 0.02; done
kill -INT $pid
status=0; wait $pid || status=$?
[ $status -eq 130 ] || { echo "SIGINT: exit status $status, expected 130"; cat "$work/int.log"; exit 1; }
stopped=$(sed -n 's/^stopped by signal 2 at step \([0-9]*\);.*/\1/p' "$work/int.log")
[ "$("$info" "$ckpt")" = "$stopped" ] || { echo "SIGINT: checkpoint is not at step $stopped"; exit 1; }
echo "SIGINT at step $stopped: checkpoint written, exit status 130"

last=$stopped
delays=$(awk 'BEGIN { srand(42); for (i = 0; i < 30; i++) printf "%.3f ", 0.05 + 0.55 * rand() }')
n=0
for d in $delays; do
  n=$((n + 1))
  "$train" autoenc $opts --out "$work/run" --steps $steps --resume > "$work/kill$n.log" 2>&1 &
  pid=$!
  sleep "$d"
  kill -KILL $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  step=$("$info" "$ckpt") || { echo "kill $n (after ${d}s): the checkpoint does not load"; exit 1; }
  [ "$step" -ge "$last" ] || { echo "kill $n: checkpoint went back from $last to $step"; exit 1; }
  echo "kill $n after ${d}s: checkpoint loads, step $step"
  last=$step
done
[ "$last" -lt $steps ] || echo "note: the run finished before the last kill"

"$train" autoenc --out "$work/run" --resume > "$work/final.log"
cmp "$work/straight/checkpoint.safetensors" "$ckpt"
cmp "$work/straight/model.safetensors" "$work/run/model.safetensors"
if ls "$work/run" | grep -q '\.tmp'; then echo "temporary files left:"; ls "$work/run"; exit 1; fi
echo "30 kills, then resumed to step $steps: identical to the uninterrupted run"
