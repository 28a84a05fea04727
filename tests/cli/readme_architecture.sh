#!/usr/bin/env bash
# README's Architecture section names every file of src/train/ and src/distributed/ (one line each)
# and every script of launch/: a file added or renamed without its line fails here.
# Usage: readme_architecture.sh SOURCE_DIR
set -euo pipefail
src=$1
section=$(awk '/^## Architecture$/ {on = 1; next} on && /^## / {exit} on' "$src/README.md")
[ -n "$section" ] || { echo "README.md has no '## Architecture' section"; exit 1; }
missing=()
for f in "$src"/src/train/* "$src"/src/distributed/*; do
  name=$(basename "$f")
  stem=${name%.cpp}
  [ "$name" = backends.h ] && stem=backends.h
  grep -Eq "(^|[^a-z_])${stem}([^a-z_]|$)" <<<"$section" || missing+=("${f#"$src"/}")
done
for f in "$src"/launch/*.sh; do
  stem=$(basename "$f" .sh)
  grep -Eq "(^|[^a-z_-])${stem}([^a-z_-]|$)" <<<"$section" || missing+=("${f#"$src"/}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "README.md's Architecture section does not name: ${missing[*]}"
  exit 1
fi
echo "README Architecture names all $(ls "$src"/src/train "$src"/src/distributed | wc -l) files of train/ and distributed/ and every launch script"
