#!/usr/bin/env python3
"""An ImageFolder tree of real photographs for the end-to-end test (tests/e2e/real_photos.sh).

Three real photographs (Debian's sample photos, launch/fetch-photos.sh), one class each, cut into
crops at seeded random positions and scales, some mirrored, saved as JPEG:
  OUT/train/<class>/NN.jpg  (6 a class)   OUT/val/<class>/NN.jpg (2)   OUT/test/<class>/NN.jpg (2)
Classes are named for what the photograph shows: daisy (flower.jpg), palace (china.jpg),
portrait (grace_hopper.jpg). Also writes OUT/labels.txt, display names in class order.
Usage: photo_tree.py PHOTOS_DIR OUT
"""
import random
import sys
from pathlib import Path

from PIL import Image, ImageOps

CLASSES = {"daisy": "flower.jpg", "palace": "china.jpg", "portrait": "grace_hopper.jpg"}
LABELS = {"daisy": "a daisy", "palace": "the Summer Palace", "portrait": "Grace Hopper"}
COUNTS = {"train": 6, "val": 2, "test": 2}


def main():
    photos, out = Path(sys.argv[1]), Path(sys.argv[2])
    rng = random.Random(2026)
    for name, file in CLASSES.items():
        img = Image.open(photos / file).convert("RGB")
        w, h = img.size
        for split, n in COUNTS.items():
            d = out / split / name
            d.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                side = int(min(w, h) * rng.uniform(0.55, 0.9))
                x, y = rng.randint(0, w - side), rng.randint(0, h - side)
                crop = img.crop((x, y, x + side, y + side)).resize((192, 192), Image.BILINEAR)
                if rng.random() < 0.5:
                    crop = ImageOps.mirror(crop)
                crop.save(d / f"{k:02d}.jpg", quality=90)
    (out / "labels.txt").write_text("".join(LABELS[c] + "\n" for c in sorted(CLASSES)))
    print(f"wrote {out}: {len(CLASSES)} classes x {sum(COUNTS.values())} crops of real photographs")


if __name__ == "__main__":
    main()
