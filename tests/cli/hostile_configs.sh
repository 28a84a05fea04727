#!/usr/bin/env bash
# Configs a hostile or careless user writes (issue 25's reproducers): each gives one line
# `finch: error: ...` naming the file or key, exit 2, within seconds, and touches nothing:
#   a value nested 100,000 levels deep (Note [Bounded JSON]; once exit 139), the same in --set;
#   a number out of range (1e400; once exit 1 naming no file); a `base` symlink loop (once exit 1);
#   a FIFO as --config (once blocked for good); a 100,000-character or 2^31 freeze policy (once a
#   stack overflow, and "stoi" with exit 1); run names that leave output_dir (.., ../x, /abs,
#   a control character; once accepted, writing into output_dir's parent).
# Usage: hostile_configs.sh FINCH WORKDIR
set -uo pipefail
finch=$(realpath "$1")
work=$2
rm -rf "$work" && mkdir -p "$work/out"
cd "$work"
failed=0
# expect NAME CODE REGEX -- ARGS...: `finch ARGS` exits CODE within 20 s, its stderr one line (of at
# most 400 characters) matching REGEX.
expect() {
  local name=$1 code=$2 regex=$3
  shift 4
  local err rc
  err=$(timeout 20 "$finch" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" != "$code" ] || ! grep -Eq "^finch: error: .*$regex" <<<"$err" || [ "$(wc -l <<<"$err")" != 1 ] || [ "${#err}" -gt 400 ]; then
    echo "FAIL $name: exit $rc (want $code); stderr: $(head -c 300 <<<"$err")"
    failed=1
  else
    echo "ok   $name: $(head -c 160 <<<"$err")"
  fi
}
/usr/bin/python3 -c "d = 100000; print('{\"train\": {\"epochs\": ' + '[' * d + ']' * d + '}}')" >deep.json
expect deep_config 2 "deep.json: .*nested deeper than 64 levels" -- config --config deep.json
deep_set=$(/usr/bin/python3 -c 'd = 30000; print("[" * d + "]" * d)')  # an argument is at most 128 KiB
expect deep_set 2 "key 'train.epochs'" -- config --set "train.epochs=$deep_set"
echo '{"optimizer": {"lr": 1e400}}' >huge.json
expect number_out_of_range 2 "huge.json: invalid JSON: .*1e400" -- config --config huge.json
ln -sf loop_b.json loop_a.json && ln -sf loop_a.json loop_b.json
echo '{"base": "loop_a.json"}' >looped.json
expect base_symlink_loop 2 "looped.json: key 'base'" -- config --config looped.json
mkfifo fifo.json
expect fifo_config 2 "fifo.json' is not a regular file" -- config --config fifo.json
long_freeze=$(/usr/bin/python3 -c 'print("last_blocks:1" + "0" * 100000)')  # once a stack overflow in std::regex
expect freeze_long 2 "key 'model.freeze': expected one of" -- config --set "model.freeze=$long_freeze"
expect freeze_long_inspect 2 "model.freeze: 'last_blocks:1000.*\\(100013 characters\\)" -- inspect --freeze "$long_freeze"
expect freeze_int_overflow 2 "key 'model.freeze'" -- config --set model.freeze=last_blocks:2147483648
expect freeze_int_overflow_inspect 2 "model.freeze: 'last_blocks:2147483648'" -- inspect --freeze last_blocks:2147483648
echo '{"output_dir": "out"}' >ok.json
for name in .. ../escaped /tmp/abs "a$(printf '\001')b"; do
  expect "name_$(tr -c 'a-z' '_' <<<"$name")" 2 "key 'name'" -- config --config ok.json --set "name=$name"
done
[ -z "$(ls -A out)" ] && [ ! -e escaped ] || { echo "FAIL: something was written: $(ls -A out) $(ls -d escaped 2>/dev/null)"; failed=1; }
exit $failed
