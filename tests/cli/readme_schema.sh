#!/usr/bin/env bash
# Fails when README.md's config table differs from what `finch config --schema` prints, so the
# documented schema cannot drift from the one the code enforces.
# Usage: readme_schema.sh FINCH README [--fix]
set -euo pipefail
finch=$1 readme=$2
table=$("$finch" config --schema)
current=$(awk '/<!-- schema:begin/{f=1; next} /<!-- schema:end/{f=0} f' "$readme")
if [ "${3:-}" = "--fix" ]; then
  awk -v t="$table" '/<!-- schema:begin/{print; print t; skip=1; next} /<!-- schema:end/{skip=0} !skip' "$readme" > "$readme.tmp"
  mv "$readme.tmp" "$readme"
  echo "readme_schema: README.md updated"
  exit 0
fi
if [ "$current" != "$table" ]; then
  diff <(printf '%s\n' "$current") <(printf '%s\n' "$table") | head -20
  echo "readme_schema: README.md's config table is stale: run tests/cli/readme_schema.sh build/finch README.md --fix"
  exit 1
fi
echo "readme_schema: README.md matches finch config --schema"
