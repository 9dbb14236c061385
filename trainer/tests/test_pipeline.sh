#!/bin/sh
# The whole flow on tiny_grey: autoenc -> latent (checked to resume exactly too) -> classify
# (directions stored in the model file) -> eval (report.json with metrics, probes and the
# samples' nearest training images, grid.png, samples.png).
#   test_pipeline.sh DIFFAE_TRAIN MAKE_DATA PYTHON WORKDIR
set -eu
train="$1"; make_data="$2"; python="$3"; work="$4"
rm -rf "$work"; mkdir -p "$work"
export DIFFAE_BACKEND=cpu
"$make_data" idx "$work/d.idx" 96 8 1 "$work/d"
common="--data $work/d.idx --holdout 20"
"$train" autoenc --config tiny_grey $common --sample-steps 3 --log-every 50 --out "$work/ae" --steps 150 --batch 16 --lr 2e-3 \
  --ema-decay 0.95 --sample-every 0

lat="--model $work/ae/model.safetensors $common --sample-steps 3 --log-every 50 --batch 32 --lr 1e-3 --ema-decay 0.9"
"$train" latent $lat --out "$work/lat" --steps 40 --sample-every 40
"$train" latent $lat --out "$work/lat2" --steps 20 --sample-every 0 > /dev/null
"$train" latent --out "$work/lat2" --resume --steps 40 > /dev/null
cmp "$work/lat/checkpoint.safetensors" "$work/lat2/checkpoint.safetensors"
echo "latent: 40 steps straight == 20 + 20 resumed, byte for byte"
test -f "$work/lat/samples/step-00000040.png"

"$train" classify --model "$work/lat/model.safetensors" $common --labels "$work/d.attrs.csv" \
  --out "$work/model.safetensors" | tee "$work/classify.log"
grep -q "with 2 directions" "$work/classify.log"
# --attributes: the output holds exactly the named directions, fitted as in the full run
"$train" classify --model "$work/model.safetensors" $common --labels "$work/d.attrs.csv" \
  --attributes big --out "$work/big.safetensors" | tee "$work/classify-big.log"
grep -q "with 1 directions" "$work/classify-big.log"
"$python" - "$work/model.safetensors" "$work/big.safetensors" <<'PY'
import json, struct, sys
def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: data[v["data_offsets"][0]:v["data_offsets"][1]]
            for k, v in header.items() if k.startswith("direction.")}
full, big = tensors(sys.argv[1]), tensors(sys.argv[2])
assert sorted(full) == ["direction.big", "direction.big.bias", "direction.bright",
                        "direction.bright.bias"], sorted(full)
assert sorted(big) == ["direction.big", "direction.big.bias"], sorted(big)
assert all(big[k] == full[k] for k in big), "direction.big differs from the full run's"
print("classify --attributes big: only direction.big, byte-equal to the full run's")
PY

"$train" eval --model "$work/model.safetensors" $common --labels "$work/d.classes.csv" \
  --steps-list 5,10 --images 12 --samples 10 --out "$work/eval"
test -f "$work/eval/grid.png"
test -f "$work/eval/samples.png"
"$python" - "$work/eval/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert [x["steps"] for x in r["reconstruction"]] == [5, 10], r
for x in r["reconstruction"]:
    inv, rnd = x["inverted_xT"], x["random_xT"]
    assert inv["psnr"] > rnd["psnr"] and 0 < inv["ssim"] <= 1, x
p = r["probe"]
assert p["kind"] == "multinomial" and p["classes"] == 4 and 0 <= p["z_sem_accuracy"] <= 1, p
for fits in (p["z_sem_fits"], p["pixels_fits"]):  # one multinomial probe: one selected fit
    assert len(fits) == 1 and fits[0]["l2"] in (0, 1e-4, 1e-3, 1e-2), fits
    assert fits[0]["iterations"] in (62, 125, 250, 500, 1000, 2000), fits
    assert 0 <= fits[0]["validation"] <= 1, fits
q = p["paired"]  # one prediction per held-out image: the accuracy gap is the discordant gap
assert abs(q["z_sem_only_right"] - q["pixels_only_right"]
           - round((p["z_sem_accuracy"] - p["pixels_accuracy"]) * p["test"])) == 0, p
assert 0 < q["mcnemar_p"] <= 1, p
s = r["samples"]
assert s["count"] == 10 and s["steps"] == 10, s
for k in ("nearest_train_mse", "heldout_nearest_train_mse"):
    assert 0 <= s[k]["min"] <= s[k]["median"] <= s[k]["max"] <= 1, s
print("report.json: ok;", json.dumps(r["reconstruction"][-1]), json.dumps(p), json.dumps(s))
PY

"$train" edit --model "$work/model.safetensors" $common --images 5 --strengths 0.5 \
  --ddim-steps 5 --out "$work/edit" > /dev/null
"$python" - "$work/edit" <<'PY'
import json, os, sys
d = sys.argv[1]
index = json.load(open(os.path.join(d, "edits.json")))
assert len(index["images"]) == 5 and index["strengths"] == [0.5], index
for name in index["images"]:
    assert os.path.exists(os.path.join(d, "recon", name + ".png")), name
    for attribute in index["attributes"]:
        for s in ("+0.5", "-0.5"):
            assert os.path.exists(os.path.join(d, attribute, s, name + ".png")), (attribute, s)
print("edit: %d images x %d attributes x 2 signs written" % (5, len(index["attributes"])))
PY
