#!/usr/bin/env bash
# expect.sh CODE REGEX -- COMMAND...: runs COMMAND, passes when it exits with CODE and its combined
# stdout+stderr matches the (extended, multi-line) REGEX.
set -u
want=$1; regex=$2; shift 2; [ "$1" = "--" ] && shift
out=$("$@" 2>&1); got=$?
printf '%s\n' "$out"
if [ "$got" != "$want" ]; then echo "expect.sh: exit code $got, wanted $want"; exit 1; fi
if ! printf "%s" "$out" | grep -Pzq -- "(?s)$regex"; then echo "expect.sh: output does not match: $regex"; exit 1; fi
echo "expect.sh: ok (exit $got, output matches)"
