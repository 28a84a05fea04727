#!/usr/bin/env bash
# Runs a sweep on this machine: the runs of a plan (`finch sweep plan`), one after another or N at
# a time, each `finch train --resume auto` in its own run directory, then the comparison
# (`finch sweep compare`: reports, one table with the varied keys, curves overlaid).
#   launch/sweep.sh runs/lr-sweep.json [-j N]
#   launch/sweep.sh configs/seed/*.json [-j N]        # configs without a grid: plans them first
#   MPIRUN="mpirun -np 4" launch/sweep.sh PLAN        # each run on 4 ranks
# A run that finished is kept, not repeated; one that stopped is resumed. With -j N, each run gets
# its share of the GPUs (CUDA_VISIBLE_DEVICES, when nvidia-smi lists them) or of the cores
# (OMP_NUM_THREADS, unless set). Exit status: 0 when every run is done, else 1 (each failure named).
set -uo pipefail
finch=$(realpath "${FINCH:-$(dirname "$0")/../build/finch}")
repo=$(cd "$(dirname "$0")/.." && pwd)
jobs=1
inputs=()
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs=${2:?-j needs a number}; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    *) inputs+=("$1"); shift ;;
  esac
done
[ ${#inputs[@]} -ge 1 ] || { echo "usage: launch/sweep.sh PLAN.json [-j N] | launch/sweep.sh CONFIG... [-j N]" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "sweep: -j takes a positive number, got '$jobs'" >&2; exit 2; }
read -r -a launcher <<< "${MPIRUN:-}"
if [ ${#inputs[@]} -eq 1 ] && grep -q '"format": *"finch-sweep"' "${inputs[0]}" 2>/dev/null; then
  plan=${inputs[0]}
else
  # Configs: one run each, planned (and validated) together first. SET="--set k=v ..." applies to all.
  read -r -a extra <<< "${SET:-}"
  mkdir -p runs
  plan=runs/configs-$(date +%Y%m%d-%H%M%S).json
  "$finch" sweep plan "${inputs[@]/#/--config=}" "${extra[@]}" --out "$plan" >/dev/null || exit $?
  echo "sweep: planned ${#inputs[@]} run(s) in $plan"
fi
plan=$(realpath "$plan")
"$finch" sweep list "$plan" >/dev/null || exit $?
runs=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["runs"]))' "$plan")

# Slots: slot s of N gets GPUs [s*G/N, (s+1)*G/N) when there are G >= N GPUs, and cores/N threads.
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
slot_env() {
  local s=$1
  if [ "${gpus:-0}" -ge "$jobs" ] && [ "$jobs" -gt 1 ]; then
    local per=$((gpus / jobs)) list=""
    for ((g = s * per; g < (s + 1) * per; g++)); do list+="${list:+,}$g"; done
    echo "CUDA_VISIBLE_DEVICES=$list"
  fi
  if [ -z "${OMP_NUM_THREADS:-}" ] && [ "$jobs" -gt 1 ]; then
    local t=$(($(nproc) / jobs))
    echo "OMP_NUM_THREADS=$((t > 0 ? t : 1))"
  fi
}

# One run: its directory and arguments from the plan (nothing when it is done), then finch train.
train_run() {
  local index=$1 slot=$2 out
  out=$("$finch" sweep args "$plan" --index "$index") || return
  [ -n "$out" ] || return 0
  local lines
  mapfile -t lines <<<"$out"
  local env_vars
  mapfile -t env_vars < <(slot_env "$slot")
  echo "sweep: run $index: ${launcher[*]:+${launcher[*]} }finch train --config ${lines[*]:1} --resume auto${env_vars[*]:+  (${env_vars[*]})}"
  (cd "${lines[0]}" && env "${env_vars[@]}" "${launcher[@]}" "$finch" train --config "${lines[@]:1}" --resume auto)
}

declare -A slot_of=()
free_slots=()
for ((s = 0; s < jobs; s++)); do free_slots+=("$s"); done
failed=()
finish_one() {  # waits for any running run; frees its slot
  local pid rc
  wait -n -p pid
  rc=$?
  free_slots+=("${slot_of[$pid]%%:*}")
  [ "$rc" = 0 ] || failed+=("run ${slot_of[$pid]#*:} (exit $rc)")
  unset "slot_of[$pid]"
}
if [ "$jobs" -gt 1 ] && ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 501)); then
  echo "sweep: -j $jobs needs bash 5.1 or newer (wait -n -p); this is bash $BASH_VERSION: run without -j" >&2
  exit 2
fi
for ((i = 0; i < runs; i++)); do
  if [ "$jobs" = 1 ]; then  # in sequence: no job control needed (any bash)
    train_run "$i" 0 || failed+=("run $i (exit $?)")
    continue
  fi
  [ ${#free_slots[@]} -gt 0 ] || finish_one
  slot=${free_slots[0]}
  free_slots=("${free_slots[@]:1}")
  train_run "$i" "$slot" &
  slot_of[$!]="$slot:$i"
done
while [ ${#slot_of[@]} -gt 0 ]; do finish_one; done

"$finch" sweep list "$plan"
"$finch" sweep compare "$plan"
rc=$?
[ ${#failed[@]} -eq 0 ] || { printf 'sweep: failed: %s\n' "${failed[@]}" >&2; exit 1; }
exit "$rc"
