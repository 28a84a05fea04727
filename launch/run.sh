#!/usr/bin/env bash
# finch on one machine, as torchrun runs a script: one rank per GPU under mpirun, restarted from the
# latest checkpoint when the job dies (torchrun's --max-restarts).
#   launch/run.sh [-n N] [--max-restarts K] [--backoff S] [--mpi-args "..."] -- finch train --config C.json ...
#     -n N              ranks (default: one per visible GPU; without a GPU, 1 CPU rank)
#     --max-restarts K  restart a failed job up to K times (default 0), each from its run's latest
#                       intact checkpoint (--resume auto replaces any --resume of the command)
#     --backoff S       seconds before the first restart (default 10), doubled for each next one
#     --mpi-args "..."  extra mpirun options, e.g. "--map-by numa --bind-to numa"
# Not restarted: success (0), a config or usage error (2: nothing ran, it would fail again), and a
# stop on a signal (75: a scheduler or a person asked the job to stop; resume it later). Every other
# exit (a crash, a killed rank, a lost GPU, a NCCL timeout) is. SIGTERM/SIGINT/SIGUSR1/SIGUSR2 sent to
# this script go to every rank (finch checkpoints and exits 75) and end the restarts.
set -uo pipefail
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ranks="" max_restarts=0 backoff=10 mpi_args=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n | --np) ranks=${2:?}; shift 2 ;;
    --max-restarts) max_restarts=${2:?}; shift 2 ;;
    --backoff) backoff=${2:?}; shift 2 ;;
    --mpi-args) mpi_args=${2:?}; shift 2 ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown option '$1' (the finch command goes after --)" >&2; usage ;;
  esac
done
[ $# -gt 0 ] || { echo "run.sh: no command: launch/run.sh -n 2 -- finch train --config C.json" >&2; exit 2; }
for v in "$max_restarts" "$backoff" ${ranks:+"$ranks"}; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "run.sh: '$v' is not a whole number" >&2; exit 2; }
done
command -v mpirun >/dev/null || { echo "run.sh: mpirun not found (Open MPI: launch/install-deps.sh)" >&2; exit 2; }

# Ranks: one per GPU that CUDA_VISIBLE_DEVICES (else nvidia-smi) shows; on a machine without one,
# a single CPU rank (more with -n: they share the cores, finch gives each cores/N threads).
gpus=0
if [ -n "${CUDA_VISIBLE_DEVICES+x}" ]; then
  gpus=$(tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c . || true)
elif command -v nvidia-smi >/dev/null; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
fi
if [ -z "$ranks" ]; then
  ranks=$(( gpus > 0 ? gpus : 1 ))
  echo "run.sh: $ranks rank(s): $([ "$gpus" -gt 0 ] && echo "one per GPU ($gpus visible)" || echo "no GPU visible, 1 CPU rank (-n for more)")"
fi
mpirun_cmd=(mpirun -np "$ranks")
# As root Open MPI refuses to start without these; more ranks than cores needs --oversubscribe.
[ "$(id -u)" = 0 ] && mpirun_cmd+=(--allow-run-as-root)
# Open MPI's slots are physical cores (not hardware threads).
cores=$(lscpu -p=CORE,SOCKET 2>/dev/null | grep -v '^#' | sort -u | wc -l)
[ "${cores:-0}" -gt 0 ] || cores=$(nproc)
[ "$ranks" -gt "$cores" ] && mpirun_cmd+=(--oversubscribe)
# Open MPI binds 1-2 ranks to one core each by default, which would leave a rank's loader workers and
# intra-op threads on a single core; without binding the kernel spreads them. Pin with --mpi-args.
mpirun_cmd+=(--bind-to none)
# shellcheck disable=SC2206
[ -n "$mpi_args" ] && mpirun_cmd+=($mpi_args)

# The command of a restart: --resume auto instead of whatever --resume the first start had.
restart_cmd=()
skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    --resume) skip=1 ;;
    --resume=*) ;;
    *) restart_cmd+=("$a") ;;
  esac
done
restart_cmd+=(--resume auto)

job=""
stopping=""
forward() {
  stopping=$1
  echo "run.sh: SIG$1: passing it to the ranks; no restart after this" >&2
  [ -n "$job" ] && kill -s "$1" "$job" 2>/dev/null
}
for s in TERM INT USR1 USR2; do trap "forward $s" "$s"; done

attempt=0
cmd=("$@")
while :; do
  t0=$(date +%s)
  echo "run.sh: start $((attempt + 1)) of at most $((max_restarts + 1)): ${mpirun_cmd[*]} ${cmd[*]}" >&2
  "${mpirun_cmd[@]}" "${cmd[@]}" &
  job=$!
  while :; do
    wait "$job"
    kill -0 "$job" 2>/dev/null || break  # else a forwarded signal cut the wait short
  done
  wait "$job"
  rc=$?
  job=""
  took=$(( $(date +%s) - t0 ))
  case "$rc" in
    0) [ "$attempt" -gt 0 ] && echo "run.sh: finished after $attempt restart(s)" >&2; exit 0 ;;
    2) echo "run.sh: exit 2 (a config or usage error: nothing ran); not restarting" >&2; exit 2 ;;
    75) echo "run.sh: exit 75 (stopped on a signal with a checkpoint); continue with the same command plus --resume auto" >&2; exit 75 ;;
  esac
  why="exit $rc"
  [ "$rc" -gt 128 ] && why="exit $rc (a rank killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
  if [ -n "$stopping" ]; then
    echo "run.sh: $why after SIG$stopping; not restarting" >&2
    exit "$rc"
  fi
  if [ "$attempt" -ge "$max_restarts" ]; then
    echo "run.sh: $why after ${took} s; no restarts left (--max-restarts $max_restarts)" >&2
    exit "$rc"
  fi
  attempt=$((attempt + 1))
  wait_s=$(( backoff * (1 << (attempt - 1)) ))
  echo "run.sh: $why after ${took} s; restart $attempt of $max_restarts in $wait_s s from the latest checkpoint (--resume auto)" >&2
  sleep "$wait_s" &
  wait $! 2>/dev/null
  if [ -n "$stopping" ]; then echo "run.sh: stopped during the back-off" >&2; exit "$rc"; fi
  cmd=("${restart_cmd[@]}")
done
