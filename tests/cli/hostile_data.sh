#!/usr/bin/env bash
# Data files a careless or hostile user leaves in place (issue 25's reproducers), each refused with
# a line naming the file, within seconds, with nothing replaced:
#   a FIFO in place of an image (train once blocked in open() for good, deaf to SIGTERM);
#   a JPEG whose header claims 20000 x 20000 pixels (dataset --deep once took 3.7 GB decoding it);
#   a JPEG cut in half (dataset --deep called it usable, training decoded grey rows);
#   `pack --out` onto a FIFO (as onto /dev/full: the rename once replaced it with a regular file);
#   a FIFO as data.root, model.pretrained, a .pth, --labels, images.txt, a checkpoint's state.json.
# (timeout -k: the old finch, blocked in open(), ignored the SIGTERM.)
# Usage: WORK=DIR hostile_data.sh FINCH (uses the np2_data fixture's JPEGs in $WORK/data)
set -uo pipefail
finch=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:?set WORK to the folder the e2e scenarios share}
dir=$work/hostile_data
rm -rf "$dir" && mkdir -p "$dir/tree/train/a" "$dir/tree/train/b"
jpegs=("$work"/data/images/001.*/*.jpg)
cp "${jpegs[@]:0:3}" "$dir/tree/train/a/" && cp "${jpegs[@]:3:3}" "$dir/tree/train/b/"
failed=0
check() {  # check NAME CODE REGEX OUTFILE RC
  if [ "$5" != "$2" ] || ! grep -Eq "$3" "$4"; then echo "FAIL $1: exit $5 (want $2): $(tail -c 400 "$4")"; failed=1; else echo "ok   $1"; fi
}

# A FIFO among the images: train stops naming it (data.on_error=fail), within the timeout.
mkfifo "$dir/tree/train/a/fifo.jpg"
timeout -k 10 120 "$finch" train --config "$here/../e2e/smoke.json" --set data.root="$dir/tree" --set output_dir="$dir/runs" --name fifo \
  --set data.val_fraction=0 --set early_stopping.enabled=false --set train.epochs=1 --set model.classes=0 >"$dir/fifo.out" 2>&1
check fifo_image 1 "finch: error: '.*fifo.jpg' is not an image file" "$dir/fifo.out" $?
rm "$dir/tree/train/a/fifo.jpg"

# A decompression bomb: a real JPEG whose frame header now claims 20000 x 20000.
/usr/bin/python3 - "$dir/tree/train/b/$(ls "$dir/tree/train/b" | head -1)" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = 2
while i + 4 < len(b):
    marker, length = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
    if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
        b[i + 5:i + 9] = struct.pack(">HH", 20000, 20000)
        break
    i += 2 + length
else:
    sys.exit("no frame header in " + p)
open(p, "wb").write(b)
PY
(ulimit -v 4000000; timeout 60 "$finch" dataset --root "$dir/tree" --deep) >"$dir/bomb.out" 2>&1
check decompression_bomb 1 "claims 20000 x 20000 pixels, more than the 178956970" "$dir/bomb.out" $?

# A JPEG cut in half (a partial copy): libjpeg decodes it with grey rows and a warning, and
# `dataset --deep` called it usable; PIL says "image file is truncated", and so does finch now.
mkdir -p "$dir/cut/train/a" "$dir/cut/train/b"
cp "${jpegs[@]:0:3}" "$dir/cut/train/a/" && cp "${jpegs[@]:3:3}" "$dir/cut/train/b/"
cut_jpeg=$dir/cut/train/a/$(ls "$dir/cut/train/a" | head -1)
head -c $(( $(stat -c %s "$cut_jpeg") / 2 )) "$cut_jpeg" >"$dir/half.jpg" && mv "$dir/half.jpg" "$cut_jpeg"
cut_name=$(basename "$cut_jpeg")
timeout 60 "$finch" dataset --root "$dir/cut" --deep >"$dir/cut.out" 2>&1
check truncated_jpeg_dataset 1 "$cut_name' is truncated: its JPEG data ends before the end-of-image marker" "$dir/cut.out" $?
timeout -k 10 120 "$finch" train --config "$here/../e2e/smoke.json" --set data.root="$dir/cut" --set output_dir="$dir/runs" --name cut \
  --set data.val_fraction=0 --set early_stopping.enabled=false --set train.epochs=1 --set model.classes=0 >"$dir/cut_train.out" 2>&1
check truncated_jpeg_train 1 "finch: error: '.*$cut_name' is truncated" "$dir/cut_train.out" $?

# pack --out onto something that is not a regular file: refused, left as it was.
mkfifo "$dir/out.finchpack"
timeout 60 "$finch" pack --root "$work/data" --out "$dir/out.finchpack" >"$dir/pack.out" 2>&1
check pack_onto_fifo 1 "finch: error: '.*out.finchpack' exists and is not a regular file" "$dir/pack.out" $?
[ -p "$dir/out.finchpack" ] || { echo "FAIL pack_onto_fifo: the FIFO was replaced"; failed=1; }
# A FIFO wherever finch reads a file (Note [Only regular files are opened]): each is named and
# refused, never opened, within the timeout (a FIFO as data.root once hung train for good).
timeout -k 10 120 "$finch" train --config "$here/../e2e/smoke.json" --set data.root="$dir/tree" --set output_dir="$dir/runs" --name ok \
  --set data.on_error=skip --set data.val_fraction=0 --set early_stopping.enabled=false --set train.epochs=1 --set model.classes=0 >"$dir/ok.out" 2>&1 ||
  { echo "FAIL: the one-epoch run for the FIFO checks: $(tail -c 400 "$dir/ok.out")"; failed=1; }
ck=$(ls -d "$dir"/runs/ok/checkpoints/ckpt-* | head -1)
mkfifo "$dir/fifo"
fifo_check() {  # fifo_check NAME CODE COMMAND...
  local name=$1 code=$2
  shift 2
  timeout -k 10 60 "$@" >"$dir/$name.out" 2>&1
  check "$name" "$code" "finch: error: .*' is a FIFO, not a regular file" "$dir/$name.out" $?
}
fifo_check fifo_data_root 2 "$finch" train --config "$here/../e2e/smoke.json" --set data.root="$dir/fifo" --set output_dir="$dir/runs" --name fifo_root
fifo_check fifo_dataset_root 2 "$finch" dataset --root "$dir/fifo"
fifo_check fifo_pretrained 1 "$finch" train --config "$here/../e2e/smoke.json" --set data.root="$dir/tree" --set output_dir="$dir/runs" \
  --name fifo_weights --set model.pretrained="$dir/fifo" --set data.val_fraction=0 --set early_stopping.enabled=false --set model.classes=0
fifo_check fifo_pth 1 "$finch" import-weights --from torchvision --arch b0 -i "$dir/fifo" -o "$dir/fifo.safetensors"
fifo_check fifo_labels 2 "$finch" predict --checkpoint "$ck" --labels "$dir/fifo" --image "${jpegs[0]}"
mkdir -p "$dir/cub" && cp -r "$work/data/." "$dir/cub/" && rm "$dir/cub/images.txt" && mkfifo "$dir/cub/images.txt"
fifo_check fifo_images_txt 1 "$finch" dataset --root "$dir/cub"
cp -r "$ck" "$dir/ck_fifo_state" && rm "$dir/ck_fifo_state/state.json" && mkfifo "$dir/ck_fifo_state/state.json"
fifo_check fifo_state_json 1 "$finch" eval --checkpoint "$dir/ck_fifo_state" --split test
exit $failed
