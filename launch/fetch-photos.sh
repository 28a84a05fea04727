#!/usr/bin/env bash
# Real photographs for the eval-transform fidelity check (tests/reference/eval_fidelity.py), taken
# from two Debian 12 packages without installing them (apt-get download + dpkg-deb -x):
#   grace_hopper.jpg  512 x 600, 4:2:0   python-matplotlib-data (matplotlib's sample data)
#   china.jpg         640 x 427, 4:4:4   python3-sklearn (sklearn.datasets.load_sample_images)
#   flower.jpg        640 x 427, 4:4:4   python3-sklearn
# Usage: launch/fetch-photos.sh [DIR]   (default /var/cache/finch/photos; prints DIR)
set -euo pipefail
dir=${1:-/var/cache/finch/photos}
want=(grace_hopper.jpg china.jpg flower.jpg)
have=0
for f in "${want[@]}"; do [ -s "$dir/$f" ] && have=$((have + 1)); done
if [ "$have" -lt ${#want[@]} ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # apt-get download writes into the current directory; _apt cannot, so it fetches as root (a warning).
  if ! (cd "$tmp" && apt-get download -q python-matplotlib-data python3-sklearn >/dev/null 2>&1); then
    $SUDO apt-get update -q >/dev/null
    (cd "$tmp" && apt-get download -q python-matplotlib-data python3-sklearn >/dev/null 2>&1) ||
      { echo "fetch-photos: cannot download python-matplotlib-data and python3-sklearn with apt-get" >&2; exit 1; }
  fi
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$tmp/x"; done
  $SUDO mkdir -p "$dir"
  $SUDO cp "$tmp/x/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg" \
           "$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg" \
           "$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg" "$dir/"
fi
echo "$dir"
