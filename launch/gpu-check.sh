#!/usr/bin/env bash
# The prepared device check: builds finch on a GPU machine (PyTorch 2.x wheel's LibTorch, NCCL from
# the nvidia-nccl wheel, Open MPI and small -dev packages from .debs/ unpacked into a prefix, no
# OpenCV, no cairo), proves the CUDA path and times it against PyTorch eager on the same GPU.
# Bounded to FINCH_CHECK_BUDGET seconds (default 300: a 15-minute visit holds two runs, machine
# starts included); every stage runs under `timeout`, and the first failed stage stops the check
# (Note [The check's order]). Works in $FINCH_CHECK_WORK (default /tmp/finch-gpu-check); writes only
# a few small files to --out: summary.md (the table), check.log (this console), probe.log,
# build.log, reference.log, correctness.log, train.log.
#
#   launch/gpu-check.sh --out DIR [--cpu-rehearsal] [--python PY] [--debs DIR]
#
# Stages, in order: probe (versions; a torch.distributed NCCL all-reduce at world 1, separate from
# finch) | prefix (.debs) | build (every core) | data (packed synthetic, NOT CUB) | train_fp32 (a
# world of one) | np2_mpi_syncbn (mpirun -np 2 on one GPU, dist.backend=mpi, SyncBN) |
# np2_nccl_experimental (-np 2 on NCCL, a different NCCL_HOSTID per rank) | correctness (finch vs
# torchvision logits on the device, fp32 and bf16) | train_bf16_cl | train_fp16 | reference
# (PyTorch eager, alone on the machine) | train_recipe (issue 26's recipe).
# --cpu-rehearsal runs every stage that needs no GPU, small, on the CPU (CI runs it).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="" rehearsal=0 python=${PYTHON:-python3} debs=$repo/.debs
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --cpu-rehearsal) rehearsal=1; shift ;;
    --python) python=$2; shift 2 ;;
    --debs) debs=$2; shift 2 ;;
    *) echo "gpu-check: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "gpu-check: --out DIR is required" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd)
work=${FINCH_CHECK_WORK:-/tmp/finch-gpu-check}
# Everything but the build folder is made anew; ninja then rebuilds only what changed (a rerun
# after a fix, on a machine still warm, costs seconds instead of the whole build).
mkdir -p "$work" && find "$work" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
exec > >(tee "$out/check.log") 2>&1
t0=$(date +%s)
export repo work python rehearsal
export PYTHONUNBUFFERED=1

if [ "$rehearsal" = 1 ]; then
  device=cpu size=64 batch=8 steps=6 classes=10 per_class=12 synth_size=72 ref_steps=3 ref_warmup=1 log_every=1
else
  device=cuda size=224 batch=64 steps=${STEPS:-60} classes=200 per_class=12 synth_size=256 ref_steps=30 ref_warmup=10 log_every=10
fi
np2_steps=$(( steps < 30 ? steps : 30 ))
# The build's limit: ~6 minutes alone on this project's 2-core machines, so ~1-2 on 16 cores; a
# 2-core CI machine beside the rest of the suite needs far longer (rehearsal).
build_limit=240
[ "$rehearsal" = 1 ] && build_limit=${FINCH_CHECK_BUILD_LIMIT:-2400}
# The PyTorch the GPU machine has (and the rehearsal builds against): launch/torch-versions.sh.
source "$repo/launch/torch-versions.sh"
torch_expected=$finch_torch_gpu_machine
loader_threads=2
[ "$(nproc)" -ge 16 ] && loader_threads=8
export np2_steps device size batch steps classes per_class synth_size ref_steps ref_warmup loader_threads log_every
finch=$work/build/finch
export finch

declare -A status secs
order=()
results=$work/results.jsonl
: >"$results"
export results

# One deadline for the whole check (give the device tool's timeout_s ~30 s more): a stage's limit
# is cut to what is left, and a stage with less than 20 s left is skipped, so the table is
# always written.
deadline=$(( t0 + ${FINCH_CHECK_BUDGET:-$([ "$rehearsal" = 1 ] && echo 5400 || echo 300)} ))

# stage NAME LIMIT_S FUNCTION: runs the exported function under timeout, logs to $work/NAME.log.
stage() {
  local name=$1 limit=$2 fn=$3 s rc left
  s=$(date +%s)
  left=$(( deadline - s - 15 ))
  if [ "$left" -lt 20 ]; then
    skip "$name" "out of the check's time budget"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  order+=("$name")
  echo "== $name (limit ${limit} s, $(( s - t0 )) s elapsed)"
  timeout -k 10 "$limit" bash -c "$fn" >"$work/$name.log" 2>&1
  rc=$?
  secs[$name]=$(( $(date +%s) - s ))
  case $rc in
    0) status[$name]=ok ;;
    124 | 137) status[$name]="failed: timed out after $limit s" ;;
    *) status[$name]="failed: exit $rc" ;;
  esac
  tail -n 12 "$work/$name.log" | sed 's/^/   /'
  echo "   -> ${status[$name]} (${secs[$name]} s)"
  return $rc
}
skip() {
  order+=("$1")
  status[$1]="skipped: $2"
  echo "== $1: skipped ($2)"
}
ok() { [ "${status[$1]:-}" = ok ]; }

# GPU memory of the whole card, sampled while a stage runs (nvidia-smi; absent on CPU).
mem_watch() {
  command -v nvidia-smi >/dev/null || return 0
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$work/$1.mem" 2>/dev/null &
  echo $! >"$work/mem.pid"
}
mem_stop() { [ -f "$work/mem.pid" ] && kill "$(cat "$work/mem.pid")" 2>/dev/null; rm -f "$work/mem.pid"; }
export -f mem_watch mem_stop

probe() {
  echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
  if p=$(command -v nvcc) && [ -x "$p" ]; then nvcc --version | tail -2; else echo "nvcc: not on PATH (CUDA_PATH=${CUDA_PATH:-unset})"; fi
  echo "cmake: $(cmake --version | head -1), ninja: $(ninja --version 2>/dev/null || echo none)"
  for t in mpirun mpirun.openmpi ssh pkg-config; do
    p=$(command -v "$t") && [ -x "$p" ] || p=none
    printf '%s: %s\n' "$t" "$p"
  done
  "$python" - <<'EOF'
import json, os, re, sys, tempfile
import torch
inc = os.path.join(os.path.dirname(torch.__file__), "include", "fmt")
fmt = "none"
for f in ("base.h", "core.h"):
    p = os.path.join(inc, f)
    if os.path.exists(p):
        m = re.search(r"define FMT_VERSION (\d+)", open(p).read())
        if m:
            v = int(m.group(1)); fmt = f"{v // 10000}.{v // 100 % 100}.{v % 100}"; break
info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
        "gpus": torch.cuda.device_count(), "fmt_in_torch": fmt}
try:
    info["cudnn"] = torch.backends.cudnn.version()
except RuntimeError as e:  # e.g. an older cuDNN of a CUDA toolkit found first on LD_LIBRARY_PATH
    info["cudnn"] = f"unusable: {e}"[:200]
if torch.cuda.is_available():
    info["card"] = torch.cuda.get_device_name(0)
    v = torch.cuda.nccl.version()
    info["nccl"] = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
    import torch.distributed as dist
    with tempfile.TemporaryDirectory() as d:
        dist.init_process_group("nccl", init_method=f"file://{d}/store", rank=0, world_size=1)
        t = torch.ones(1 << 20, device="cuda")
        dist.all_reduce(t)
        torch.cuda.synchronize()
        info["torch_nccl_allreduce_world1"] = bool(t[0].item() == 1.0)
        dist.destroy_process_group()
print(json.dumps({"stage": "probe", **info}))
EOF
}
export -f probe

prefix() {
  if compgen -G "$debs/*.deb" >/dev/null; then
    bash "$repo/launch/mpi-prefix.sh" "$debs" "$work/prefix"
  elif mpicc --version >/dev/null 2>&1 && mpirun --version >/dev/null 2>&1; then  # runnable, not just on PATH
    echo "no .deb files in $debs: using the system's MPI ($(command -v mpirun))"
  else
    echo "no .deb files in $debs and no system MPI: run launch/fetch-gpu-debs.sh on a Debian 12 machine and carry .debs" >&2
    exit 1
  fi
}
export debs
export -f prefix

build_finch() {
  [ -f "$work/prefix/finch-env.sh" ] && source "$work/prefix/finch-env.sh"
  local torch_cmake nccl_root
  torch_cmake=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  nccl_root=$("$python" -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
  echo "Torch CMake: $torch_cmake; NCCL_ROOT: ${nccl_root:-none, the toolkit NCCL}; prefix args: ${FINCH_PREFIX_CMAKE_ARGS:-none}"
  # shellcheck disable=SC2086
  cmake -S "$repo" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFINCH_BUILD_TESTS=OFF -DFINCH_WITH_OPENCV=OFF \
    -DFINCH_WITH_REPORT=OFF "-DCMAKE_PREFIX_PATH=$torch_cmake${FINCH_PREFIX:+;$FINCH_PREFIX}" \
    ${FINCH_PREFIX_CMAKE_ARGS:-} ${nccl_root:+-DNCCL_ROOT=$nccl_root} || exit 1
  # A CUDA build must link the libnccl under NCCL_ROOT (the wheel's, the one torch loads).
  local linked
  linked=$(grep "^NCCL_LIBRARY:" "$work/build/CMakeCache.txt" | cut -d= -f2)
  if grep -q "FINCH_USE_CUDA 1" "$work/build/generated/finch/core/build_info.h"; then
    echo "NCCL linked: $linked"
    if [ -n "$nccl_root" ] && [ "${linked#"$nccl_root"}" = "$linked" ]; then
      echo "NCCL_LIBRARY=$linked is not under NCCL_ROOT=$nccl_root" >&2
      exit 1
    fi
  fi
  cmake --build "$work/build" --target finch --parallel "$(nproc)" || exit 1
  "$finch" --version
}
export -f build_finch

reference() {
  set -o pipefail
  local amps=(none) r
  [ "$device" = cuda ] && amps=(none bf16_cl)
  for r in "${amps[@]}"; do
    local extra=()
    [ "$r" = bf16_cl ] && extra=(--amp bf16 --channels-last)
    mem_watch "reference_$r"
    "$python" "$repo/tests/reference/eager_step.py" --device "$device" --batch "$batch" --size "$size" --classes "$classes" \
      --steps "$ref_steps" --warmup "$ref_warmup" --label "pytorch_$r" "${extra[@]}" | tee -a "$results" || { mem_stop; exit 1; }
    mem_stop
  done
}
export -f reference

data() {
  "$finch" synth --packed "$work/synthetic.pack" --classes "$classes" --per-class "$per_class" --size "$synth_size" --easy --workers "$(nproc)"
}
export -f data

correctness() {
  local d=$work/parity
  "$python" "$repo/tests/reference/device_parity.py" generate "$d" "$device" || exit 1
  "$finch" import-weights --from torchvision --arch efficientnet_b0 -i "$d/b0.pth" -o "$d/b0.safetensors" || exit 1
  for prec in $(cat "$d/precisions.txt"); do
    local amp=none
    [ "$prec" = bf16 ] && amp=bf16
    "$finch" forward --arch efficientnet_b0 -w "$d/b0.safetensors" -i "$d/input.safetensors" -o "$d/finch_$prec.safetensors" \
      --device "$device" --amp "$amp" || exit 1
  done
  set -o pipefail
  "$python" "$repo/tests/reference/device_parity.py" compare "$d" | tee -a "$results"
}
export -f correctness

# train NAME [finch train --set ...]: a world of one unless FINCH_CHECK_LAUNCH holds a launcher.
train_run() {
  local name=$1
  shift
  [ -f "$work/prefix/finch-env.sh" ] && source "$work/prefix/finch-env.sh"
  mem_watch "$name"
  # shellcheck disable=SC2086
  ${FINCH_CHECK_LAUNCH:-} "$finch" train --config "$repo/configs/gpu_check.json" --name "$name" --set output_dir="$work/runs" \
    --set data.root="$work/synthetic.pack" --set data.image_size="$size" --set data.resize="$size" --set train.batch_size="$batch" \
    --set train.max_steps="$steps" --set model.classes="$classes" --set data.workers="$loader_threads" \
    --set logging.every_steps="$log_every" "$@"
  local rc=$?
  mem_stop
  return $rc
}
export -f train_run

# loss_fell NAME: the run learned (mean of its last three logged losses below its first one).
loss_fell() {
  "$python" - "$work/runs/$1/metrics.jsonl" <<'EOF'
import json, sys
losses = [r["loss"] for r in map(json.loads, open(sys.argv[1])) if r.get("kind") == "step"]
last = sum(losses[-3:]) / max(1, len(losses[-3:]))
print(f"loss: first {losses[0]:.4f}, last three {last:.4f} over {len(losses)} records")
sys.exit(0 if len(losses) >= 4 and last < losses[0] else 1)
EOF
}
export -f loss_fell

summary() {
  "$python" - "$work" "$out/summary.md" "$@" <<'EOF'
import json, os, statistics, sys
work, path, *stages = sys.argv[1:]
facts = [json.loads(l) for l in open(f"{work}/results.jsonl") if l.strip().startswith("{")]
probe = next((f for f in facts if f.get("stage") == "probe"), {})
ref = {f["label"]: f for f in facts if f.get("label", "").startswith("pytorch_")}

def mem(name):
    try:
        v = [int(x) for x in open(f"{work}/{name}.mem").read().split() if x.strip().isdigit()]
        return max(v) if v else None
    except OSError:
        return None

def run_facts(name):
    p = f"{work}/runs/{name}/metrics.jsonl"
    if not os.path.exists(p):
        return None
    recs = [json.loads(l) for l in open(p)]
    steps = [r for r in recs if r.get("kind") == "step"]
    if not steps:
        return None
    ips = [r["images_per_s"] for r in steps][len(steps) // 3:] or [steps[-1]["images_per_s"]]
    return {"ips": statistics.median(ips), "first_loss": steps[0]["loss"], "last_loss": steps[-1]["loss"],
            "overflows": steps[-1].get("overflows"), "loss_scale": steps[-1].get("loss_scale"),
            "world": next((r.get("world_size") for r in recs if r.get("kind") == "start"), None)}

card = probe.get("card", "no GPU (CPU rehearsal)")
lines = [f"## finch GPU check: {card}", "",
         f"torch {probe.get('torch')} (CUDA {probe.get('cuda')}, NCCL {probe.get('nccl', '-')}), fmt in torch's headers "
         f"{probe.get('fmt_in_torch')}; EfficientNet-B0, {os.environ['size']} px, batch {os.environ['batch']} per rank, "
         f"{os.environ['steps']} steps, packed synthetic data (NOT CUB). PyTorch: eager torchvision model on one resident batch "
         "(no loader); finch: its training loop with its loader, median images/s past the first third of the steps.", "",
         "| stage | result | s | finch img/s | PyTorch img/s | finch/PyTorch | peak GPU MiB (nvidia-smi) | notes |",
         "|---|---|---:|---:|---:|---:|---:|---|"]
pairs = {"train_fp32": "pytorch_none", "train_bf16_cl": "pytorch_bf16_cl"}
for s in stages:
    name, status, secs = s.split("|", 2)
    f = run_facts(name) if name.startswith(("train_", "np2_")) else None
    r = ref.get(pairs.get(name, ""))
    fi = f"{f['ips']:.0f}" if f else ""
    pi = f"{r['images_per_s']:.0f}" if r else ""
    ratio = f"{f['ips'] / r['images_per_s']:.2f}" if f and r else ""
    m = mem(name)
    notes = []
    if f:
        notes.append(f"loss {f['first_loss']:.3f} -> {f['last_loss']:.3f}")
        if f.get("world"):
            notes.append(f"world {f['world']}")
        if f.get("overflows") is not None:
            notes.append(f"fp16 overflows {f['overflows']}, scale {f['loss_scale']:g}")
    if name == "reference":
        notes += [f"{k}: {v['images_per_s']:.0f} img/s, {v['peak_mem_mib'] or 0:.0f} MiB (torch allocator)" for k, v in ref.items()]
    if name == "correctness":
        for c in (x for x in facts if "precision" in x):
            notes.append(f"{c['precision']} rel {c['rel_max_diff']:.1e}, top-1 {c['top1_same']}/{c['n']}")
    lines.append(f"| {name} | {status} | {secs} | {fi} | {pi} | {ratio} | {m if m is not None else ''} | {'; '.join(notes)} |")
open(path, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
}

# ---------------------------------------------------------------------------------------------
# Note [The check's order]: what a first visit most needs comes first (issue 27): does it build, does
# one rank train, do two ranks train (the only multi-rank GPU evidence one card gives), are the
# logits right; then the precisions and channels-last, the PyTorch reference and the recipe, which
# a short budget drops first. The reference runs alone, after the build (timed beside a build
# using every core it would flatter finch). The first failed stage stops the check: every later
# stage is listed as not run, the table is written at once, and the visit's time is left for a
# fix and one rerun instead of stage after stage failing the same way.
halted=""
# step NAME LIMIT_S FUNCTION [HINT]: a stage, unless an earlier one failed.
step() {
  if [ -n "$halted" ]; then
    skip "$1" "not run: $halted failed"
    return 1
  fi
  stage "$1" "$2" "$3" && return 0
  halted=$1
  echo "gpu-check: stopping at the first failed stage, $1${4:+: $4}"
  return 1
}
hint_prefix="bring the Debian packages along: run launch/fetch-gpu-debs.sh on the Debian 12 machine and pass .debs in the device tool's carry (or give --debs DIR)"
hint_build="build.log in --out has the compiler's message; fix it, rebuild here against torch $torch_expected (launch/test.sh's rehearsal does), and rerun"

step probe 60 'set -o pipefail; probe | tee -a "$results"'
step prefix 60 prefix "$hint_prefix"
[ -f "$work/prefix/finch-env.sh" ] && source "$work/prefix/finch-env.sh"
step build "$build_limit" build_finch "$hint_build"
step data 60 data
step train_fp32 90 'train_run train_fp32'
mpirun_bin=${FINCH_MPIRUN:-mpirun}
# The two-rank runs: fewer steps, and no checkpoint but the last (an epoch is ~18 steps per rank).
np2=(--set train.max_steps="$np2_steps" --set checkpoint.every_epochs=0 --set checkpoint.keep_best=false)
export np2_args="${np2[*]}"
export FINCH_CHECK_LAUNCH="$mpirun_bin --allow-run-as-root --oversubscribe --bind-to none -np 2"
step np2_mpi_syncbn 90 'train_run np2_mpi_syncbn --set dist.backend=mpi --set dist.sync_bn=true --set dist.share_gpus=true $np2_args'
if [ "$device" = cuda ]; then
  # Experimental: NCCL refuses two ranks on one GPU of one host; a different NCCL_HOSTID per rank
  # makes them look like two hosts, talking over loopback sockets.
  export FINCH_CHECK_LAUNCH="$mpirun_bin --allow-run-as-root --oversubscribe --bind-to none -np 2 -x NCCL_SOCKET_IFNAME=lo -x NCCL_DEBUG=WARN $repo/launch/nccl-hostid.sh"
  step np2_nccl_experimental 60 'train_run np2_nccl_experimental --set dist.backend=nccl --set dist.share_gpus=true $np2_args'
else
  skip np2_nccl_experimental "no GPU"
fi
unset FINCH_CHECK_LAUNCH
step correctness 90 correctness
if [ "$device" = cuda ]; then
  step train_bf16_cl 60 'train_run train_bf16_cl --set train.amp=bf16 --set train.channels_last=true && loss_fell train_bf16_cl'
  step train_fp16 60 'train_run train_fp16 --set train.amp=fp16'
else
  skip train_bf16_cl "no GPU"
  skip train_fp16 "no GPU"
fi
step reference 90 reference
# Issue 26's recipe on the device: the EMA's fused update, Mixup/CutMix and the soft-target loss
# on device tensors (channels-last under bf16 on a GPU), random erasing in the loader, a per-step
# cosine; the partial epoch's end validates the EMA.
recipe=(--set train.ema.enabled=true --set train.ema.warmup=true --set data.mixup.mixup_alpha=0.2 --set data.mixup.cutmix_alpha=1.0
        --set data.random_erasing.prob=0.25 --set scheduler.name=cosine --set scheduler.per_step=true --set scheduler.warmup_epochs=1)
[ "$device" = cuda ] && recipe+=(--set train.amp=bf16 --set train.channels_last=true --set train.max_steps=40)
export recipe_args="${recipe[*]}"
step train_recipe 60 'train_run train_recipe $recipe_args && grep -q "val (EMA)" "$work/runs/train_recipe/train.log"'

# Small logs for --out (each cut to its tail), then the table.
for f in probe build reference correctness; do [ -f "$work/$f.log" ] && tail -c 2000000 "$work/$f.log" >"$out/$f.log"; done
for s in train_fp32 train_bf16_cl train_fp16 np2_mpi_syncbn np2_nccl_experimental train_recipe; do
  [ -f "$work/$s.log" ] && { echo "===== $s"; tail -n 60 "$work/$s.log"; }
done >"$out/train.log"
args=()
failed=0
for s in "${order[@]}"; do
  args+=("$s|${status[$s]}|${secs[$s]:-}")
  case ${status[$s]} in failed*) failed=$((failed + 1)) ;; esac
done
summary "${args[@]}"
echo "gpu-check: $(( ${#order[@]} - failed )) of ${#order[@]} stages ok or skipped, $failed failed, $(( $(date +%s) - t0 )) s"
[ "$failed" = 0 ]
