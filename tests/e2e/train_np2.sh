#!/usr/bin/env bash
# End to end on 2 MPI ranks (CPU), one scenario per call (one CTest entry each; tests/CMakeLists.txt
# orders them with fixtures: `data` first, `learns` before the scenarios that continue its run).
#   data                  synthetic 10-class dataset shared by the others
#   learns                6 epochs: val and test accuracy at least 2x chance; log, metrics, checkpoints
#   resume_other_world    --resume auto continues that run on 2 ranks, then on 1 rank
#   refuses_overwrite     a fresh run into a directory that holds a run is refused
#   mid_epoch_resume      max_steps stops mid-epoch; the checkpoint records where; a resume continues there
#   nan_stop              a NaN loss on rank 1 only stops every rank (train.on_nan=stop, exit 1)
#   nan_skip              ... or skips that step on every rank (train.on_nan=skip_step)
#   preempt_term_rank1    SIGTERM to rank 1 mid-run (then repeatedly to both): exit 75 on every rank, a
#                         checkpoint that verifies, --resume auto continues
#   preempt_usr1_rank0    the same with SIGUSR1 to rank 0
#   bitexact_np1/_np2     (and _recipe_np2: per-step cosine, layer decay, backbone LR scale)
#                         a run stopped by FINCH_FAULT_SIGNAL (a real signal) mid-epoch and at an epoch
#                         end, then resumed, equals the uninterrupted run bit for bit (compare_runs.py)
#   bench_matches_train   `finch bench e2e --config` takes the trainer's own step (Note [One step
#                         assembly]): after 4 steps on 2 ranks, with dropout and stochastic depth,
#                         its weights equal the checkpoint of `finch train --set train.max_steps=4`
#   kill9_rank1           kill -9 of rank 1 mid-step: non-zero exit within 60 s naming rank 1, the last
#                         checkpoint intact, --resume auto continues
#   inspect_checkpoint    finch inspect --checkpoint on that run: intact, config difference, a flipped byte (exit 1)
#   disk_full             a checkpoint that does not fit on a small tmpfs: exit 1 naming the path, or
#                         checkpoint.on_error=warn trains on and writes the next one; earlier ones intact
#   config_error_one_rank one rank's config is bad (its data.root does not exist): every rank exits, the
#                         error names the rank, nothing hangs (a rank killed mid-run is tested elsewhere)
#   eval_tta              eval/predict --tta hflip vs none on the smoke run: the flag reaches the forward
#   ranks_disagree        rank 1 launched with another batch size, another head, a bad FINCH_FAULT_SIGNAL:
#                         exit 2 naming rank 1 and the key, no run directory
#   early_signal_rank1    SIGTERM to rank 1 as soon as its handlers exist: exit 75, nothing written
#   failed_start          a start with a missing data.root, then one whose classes do not match the
#                         data: exit 2 and no run directory; the corrected command then simply works
#                         (no --resume, same name) and its train.log holds what was logged before it existed
# Usage: WORK=DIR train_np2.sh SCENARIO FINCH MPIEXEC... (the mpiexec command with its flags)
set -euo pipefail
scenario=$1
finch=$2
shift 2
mpiexec=("$@")
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:?set WORK to the folder the scenarios share}
run=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --name smoke)
dir=$work/runs/smoke

# rank_pid NAME R: the pid of rank R of the run --name NAME (other scenarios may run beside this one).
source "$(dirname "$0")/procs.sh"

# start_np2 NAME STEPS ARGS...: `finch train ARGS` on 2 ranks in the background ($launcher), its
# output in $work/NAME.out; returns once its metrics.jsonl holds STEPS step records.
start_np2() {
  local name=$1 steps=$2
  shift 2
  rm -rf "$work/runs/$name"
  "${mpiexec[@]}" -n 2 "$finch" train "$@" >"$work/$name.out" 2>&1 &
  launcher=$!
  local metrics=$work/runs/$name/metrics.jsonl
  for _ in $(seq 1 600); do
    [ -f "$metrics" ] && [ "$(grep -c '"kind":"step"' "$metrics")" -ge "$steps" ] && return
    sleep 0.2
  done
}
# wait_launcher: waits (at most 120 s) for $launcher and sets rc to its exit code.
wait_launcher() {
  set +e
  timeout 120 tail --pid="$launcher" -f /dev/null
  wait "$launcher"
  rc=$?
  set -e
}

case $scenario in
data)
  rm -rf "$work" && mkdir -p "$work"
  "$finch" synth --out "$work/data" --classes 10 --per-class 40 --size 40 --seed 3 --easy >/dev/null
  ;;

learns)
  rm -rf "$dir"
  "${mpiexec[@]}" -n 2 "$finch" train "${run[@]}"
  for f in config.json train.log metrics.jsonl checkpoints/latest checkpoints/best/model.safetensors; do
    [ -e "$dir/$f" ] || { echo "missing $dir/$f"; exit 1; }
  done
  /usr/bin/python3 - "$dir/metrics.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
epochs = [r for r in recs if r["kind"] == "epoch"]
test = [r for r in recs if r["kind"] == "test"][-1]
best_val = max(r["val_acc"] for r in epochs)
print(f"epochs {len(epochs)}, best val acc {best_val:.3f}, test acc {test['test_acc']:.3f} (chance 0.100)")
assert len(epochs) == 6, epochs
assert best_val >= 0.2, f"val accuracy {best_val} is not clearly above chance"
assert test["test_acc"] >= 0.2, f"test accuracy {test['test_acc']} is not clearly above chance"
assert test["test_images"] == 200, test
assert [r["epoch"] for r in epochs] == list(range(6))
lrs = [r["lr"] for r in epochs]
assert all(abs(lrs[k] - 0.002 * 0.9 ** k) < 1e-9 for k in range(6)), lrs   # StepLR(1, 0.9)
# the share of step time spent waiting for the loader (the slowest rank's), a fraction
assert all(0 <= r["data_wait_frac"] < 1 for r in epochs), [r["data_wait_frac"] for r in epochs]
PY
  grep -q "SYNTHETIC" "$dir/train.log"
  grep -Eq "epoch 5 done in .* \| data wait [0-9.]+%" "$dir/train.log"
  ;;

resume_other_world)
  echo "== --resume auto: 2 more epochs on 2 ranks"
  "${mpiexec[@]}" -n 2 "$finch" train "${run[@]}" --set train.epochs=8 --resume auto
  grep -q "resumed from .*ckpt-" "$dir/train.log"
  echo "== --resume auto on 1 rank (another world size): 1 more epoch"
  "$finch" train "${run[@]}" --set train.epochs=9 --resume auto
  /usr/bin/python3 - "$dir/metrics.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
epochs = [r["epoch"] for r in recs if r["kind"] == "epoch"]
assert epochs == list(range(9)), epochs
steps = [r["step"] for r in recs if r["kind"] == "step"]
assert steps == sorted(steps), "global steps must continue across resumes"
starts = [r for r in recs if r["kind"] == "start"]
assert [s["world_size"] for s in starts] == [2, 2, 1], starts
assert starts[1]["resumed_from"] and starts[2]["resumed_from"]
print("resume: epochs", epochs, "steps continue up to", steps[-1])
PY
  ;;

refuses_overwrite)
  if "$finch" train "${run[@]}" 2>"$work/err"; then echo "should have refused"; exit 1; fi
  grep -q "already holds a run" "$work/err"
  ;;

mid_epoch_resume)
  mid=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --name midepoch)
  rm -rf "$work/runs/midepoch"
  "${mpiexec[@]}" -n 2 "$finch" train "${mid[@]}" --set train.max_steps=3 >"$work/mid.out" 2>&1 || { tail "$work/mid.out"; exit 1; }
  latest=$(cat "$work/runs/midepoch/checkpoints/latest")
  /usr/bin/python3 - "$work/runs/midepoch/checkpoints/$latest/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["epoch"] == 0 and not s["epoch_complete"] and s["global_step"] == 3, s
assert s["sample_offset"] == 3 * 2 * 8, s["sample_offset"]   # 3 steps x 2 ranks x batch 8
PY
  "$finch" train "${mid[@]}" --set train.epochs=1 --resume auto >"$work/mid2.out" 2>&1 || { tail "$work/mid2.out"; exit 1; }
  grep -q "resumed from .*: epoch 0 at sample 48, global step 3, saved by 2 rank(s), now 1" "$work/runs/midepoch/train.log"
  ;;

nan_stop | nan_skip)
  nan=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --set train.epochs=1)
  rm -rf "$work/runs/$scenario"
  if [ "$scenario" = nan_stop ]; then
    set +e
    FINCH_FAULT_NAN=1:2 "${mpiexec[@]}" -n 2 "$finch" train "${nan[@]}" --name nan_stop --set train.on_nan=stop >"$work/nan_stop.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 1 ] || { echo "on_nan=stop: expected exit 1, got $rc"; tail "$work/nan_stop.out"; exit 1; }
    grep -q "non-finite loss at epoch 0 step 1 on rank(s) 1: stopping" "$work/runs/nan_stop/train.log"
  else
    FINCH_FAULT_NAN=1:2 "${mpiexec[@]}" -n 2 "$finch" train "${nan[@]}" --name nan_skip --set train.on_nan=skip_step >"$work/nan_skip.out" 2>&1 \
      || { echo "on_nan=skip_step must finish"; tail "$work/nan_skip.out"; exit 1; }
    /usr/bin/python3 - "$work/runs/nan_skip/metrics.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
nan = [r for r in recs if r["kind"] == "nan"]
assert len(nan) == 1 and nan[0]["ranks"] == "1" and nan[0]["action"] == "skip_step", nan
end = [r for r in recs if r["kind"] == "end"][-1]
assert end["steps"] == 9, end   # 10 steps in the epoch, one skipped on both ranks
PY
  fi
  ;;

preempt_term_rank1 | preempt_usr1_rank0)
  # A stop signal to one rank mid-run: every rank stops at the next step boundary with exit 75,
  # rank 0 has written a checkpoint of where the run stood, and --resume auto continues from it.
  if [ "$scenario" = preempt_term_rank1 ]; then sig=TERM victim=1; else sig=USR1 victim=0; fi
  name=$scenario
  pre=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --name "$name"
       --set logging.every_steps=1 --set train.epochs=40 --set checkpoint.every_epochs=0)
  start_np2 "$name" 3 "${pre[@]}"
  metrics=$work/runs/$name/metrics.jsonl
  victim_pid=$(rank_pid "$name" "$victim")
  [ -n "$victim_pid" ] || { echo "rank $victim not found"; kill "$launcher"; exit 1; }
  kill -s "$sig" "$victim_pid"
  # ... and, once the ranks agreed to stop, the same signal again and again to both while they write
  # the checkpoint and leave (a launcher or a user repeating it): the checkpoint must still verify
  # and the exit stay 75.
  ( for _ in $(seq 1 600); do grep -q "stopping at epoch" "$work/runs/$name/train.log" 2>/dev/null && break; sleep 0.01; done
    while kill -0 "$launcher" 2>/dev/null; do
      for r in 0 1; do p=$(rank_pid "$name" "$r"); [ -z "$p" ] || kill -s "$sig" "$p" 2>/dev/null || true; done
      sleep 0.05
    done ) &
  storm=$!
  wait_launcher
  wait "$storm" || true
  "$finch" inspect --checkpoint "$work/runs/$name" >"$work/$name.inspect" || { echo "the checkpoint does not verify"; cat "$work/$name.inspect"; exit 1; }
  [ "$rc" = 75 ] || { echo "expected exit 75 (preempted), got $rc"; tail -20 "$work/$name.out"; exit 1; }
  grep -q "SIG$sig on rank $victim: stopping at epoch [0-9]* step [0-9]* with a checkpoint; exit 75" "$work/runs/$name/train.log"
  latest=$(cat "$work/runs/$name/checkpoints/latest")
  /usr/bin/python3 - "$metrics" "$work/runs/$name/checkpoints/$latest/state.json" "SIG$sig on rank $victim" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
end = [r for r in recs if r["kind"] == "end"]
assert len(end) == 1 and end[0]["reason"] == f"preempted ({sys.argv[3]})", end
assert not [r for r in recs if r["kind"] == "test"], "no test evaluation on a preemption"
s = json.load(open(sys.argv[2]))
assert s["global_step"] == end[0]["steps"] >= 3, (s["global_step"], end)
assert s["sample_offset"] % 16 == 0, s   # whole optimizer steps: 2 ranks x batch 8
print(f"preempted at epoch {s['epoch']} step {s['global_step']} (sample {s['sample_offset']}, complete {s['epoch_complete']})")
PY
  if [ "$victim" = 1 ]; then
    step=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['global_step'])" "$work/runs/$name/checkpoints/$latest/state.json")
    epoch=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['epoch'])" "$work/runs/$name/checkpoints/$latest/state.json")
    "${mpiexec[@]}" -n 2 "$finch" train "${pre[@]}" --set train.epochs=$((epoch + 1)) --resume auto >"$work/$name.resume.out" 2>&1 \
      || { echo "the resume must finish"; tail "$work/$name.resume.out"; exit 1; }
    grep -q "resumed from .*global step $step, saved by 2 rank(s), now 2" "$work/runs/$name/train.log"
    /usr/bin/python3 - "$metrics" "$step" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
steps = [r["step"] for r in recs if r["kind"] == "step"]
k = steps.index(int(sys.argv[2]))
assert steps[k + 1] == int(sys.argv[2]) + 1, steps   # the resumed run continues with the next step
assert [r for r in recs if r["kind"] == "end"][-1]["reason"] == "max_epochs"
PY
  fi
  ;;

bitexact_np1 | bitexact_np2 | bitexact_recipe_np1 | bitexact_recipe_np2)
  # A run stopped by a real signal and resumed is the run that was not stopped: bitwise-identical
  # final weights and identical epoch/test records, with dropout, stochastic depth, augmentation,
  # Adam, ReduceLROnPlateau, early stopping and Precise BN all in play. Stopped twice: in the middle
  # of epoch 1 (a signal during step 13) and at the end of epoch 0 (during step 10, the epoch's last:
  # honoured after validation and the epoch checkpoint).
  # bitexact_recipe_np1/np2: the same with issue 26's recipe instead of the plateau: a per-step
  # cosine with warmup (timm's), layer-wise LR decay, a backbone LR scale, an EMA of the weights
  # (timm's warmup, every 2nd step, both validated), Mixup/CutMix (per image), TrivialAugmentWide and
  # random erasing: everything issue 26 adds, on at once.
  np=${scenario##*_np}
  launch=("${mpiexec[@]}" -n "$np")
  [ "$np" = 1 ] && launch=()
  base=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs/$scenario"
        --set train.epochs=3 --set train.batch_size=$((16 / np)) --set model.dropout=0.3 --set model.stochastic_depth=0.2
        --set scheduler.name=plateau --set scheduler.monitor=val_loss --set scheduler.mode=min --set scheduler.patience=0
        --set scheduler.factor=0.5 --set early_stopping.patience=2 --set checkpoint.keep_last=10)
  case $scenario in bitexact_recipe_*) recipe=1 ;; *) recipe=0 ;; esac
  [ "$recipe" = 1 ] && base+=(--set scheduler.name=cosine --set scheduler.per_step=true
    --set scheduler.warmup_epochs=1 --set scheduler.warmup_lr=0.0001 --set optimizer.layer_decay=0.8 --set optimizer.backbone_lr_scale=0.5
    --set train.ema.enabled=true --set train.ema.warmup=true --set train.ema.every_steps=2 --set train.ema.validate=both
    --set data.mixup.mixup_alpha=0.4 --set data.mixup.cutmix_alpha=1.0 --set data.mixup.prob=0.8 --set data.mixup.mode=elem
    --set data.random_erasing.prob=0.5 --set data.random_erasing.max_count=2 --set data.auto_augment=trivialaugment_wide)
  rm -rf "$work/runs/$scenario"
  "${launch[@]}" "$finch" train "${base[@]}" --name whole >"$work/$scenario.whole.out" 2>&1 || { tail "$work/$scenario.whole.out"; exit 1; }
  for cut in 13:TERM 10:USR1; do
    name=cut${cut%%:*}
    set +e
    FINCH_FAULT_SIGNAL=$((np - 1)):$cut "${launch[@]}" "$finch" train "${base[@]}" --name "$name" >"$work/$scenario.$name.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 75 ] || { echo "$name: expected exit 75, got $rc"; tail "$work/$scenario.$name.out"; exit 1; }
    "${launch[@]}" "$finch" train "${base[@]}" --name "$name" --resume auto >>"$work/$scenario.$name.out" 2>&1 \
      || { tail "$work/$scenario.$name.out"; exit 1; }
  done
  /usr/bin/python3 "$here/compare_runs.py" "$work/runs/$scenario/whole" "$work/runs/$scenario/cut13" 13 1 0
  /usr/bin/python3 "$here/compare_runs.py" "$work/runs/$scenario/whole" "$work/runs/$scenario/cut10" 10 0 1
  if [ "$recipe" = 1 ]; then
    # eval reads what validation measured: the best checkpoint's EMA weights by default (the best
    # epoch's val_loss), its model weights with --no-ema (that epoch's val_model_loss), in
    # validation's batches (16 / np: a loss of ~160 moved by 2e-4 with batches of 64, another
    # summation order).
    for w in ema model; do
      flag=(); [ $w = model ] && flag=(--no-ema)
      "$finch" eval --checkpoint "$work/runs/$scenario/whole" --split val --batch-size $((16 / np)) --json "${flag[@]}" >"$work/$scenario.eval.$w.json"
    done
    /usr/bin/python3 - "$work/runs/$scenario/whole/metrics.jsonl" "$work/$scenario.eval" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
epochs = {r["epoch"]: r for r in recs if r["kind"] == "epoch"}
best = epochs[[r for r in recs if r["kind"] == "epoch"][-1]["best_epoch"]]
assert best["val_weights"] == "ema" and "val_model_loss" in best, best
test = [r for r in recs if r["kind"] == "test"][0]
assert test["ema"] is True, test
for w, key in (("ema", "val_loss"), ("model", "val_model_loss")):
    e = json.load(open(f"{sys.argv[2]}.{w}.json"))
    assert e["weights"] == w and abs(e["loss"] - best[key]) < 1e-4 * max(1, abs(best[key])), (w, e["loss"], best[key])
assert abs(best["val_loss"] - best["val_model_loss"]) > 1e-6, "the EMA and the model validated alike: is the EMA the model?"
print(f"eval: EMA val loss {best['val_loss']:.5f}, model {best['val_model_loss']:.5f} (epoch {best['epoch']}), as validation measured")
PY
  fi
  ;;

bench_matches_train)
  # The benchmark measures the step that trains: the same config through `finch train` (stopped by
  # train.max_steps) and through `finch bench e2e --config` ends with bitwise the same parameters.
  # (Buffers differ by design: the trainer averages BatchNorm statistics over ranks before it saves,
  # the benchmark writes rank 0's.)
  # A per-step schedule with warmup too: its LR is set where the step is (step_parts.h set_step_lr).
  cfg=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs/$scenario" --set model.dropout=0.3
       --set model.stochastic_depth=0.2 --set scheduler.name=cosine --set scheduler.per_step=true --set scheduler.warmup_epochs=1
       --set scheduler.warmup_lr=0.0001)
  rm -rf "$work/runs/$scenario" "$work/$scenario.safetensors"
  "${mpiexec[@]}" -n 2 "$finch" train "${cfg[@]}" --set train.max_steps=4 --name trained >"$work/$scenario.train.out" 2>&1 \
    || { tail "$work/$scenario.train.out"; exit 1; }
  "${mpiexec[@]}" -n 2 "$finch" bench e2e "${cfg[@]}" --steps 4 --warmup 0 --save-weights "$work/$scenario.safetensors" \
    >"$work/$scenario.bench.out" 2>&1 || { tail "$work/$scenario.bench.out"; exit 1; }
  grep -q "weights after 4 steps" "$work/$scenario.bench.out" || { cat "$work/$scenario.bench.out"; exit 1; }
  ck=$work/runs/$scenario/trained/checkpoints
  PYTHONPATH=$here /usr/bin/python3 - "$ck/$(cat "$ck/latest")/model.safetensors" "$work/$scenario.safetensors" <<'PY'
import sys
from safetensors_raw import tensors
trained, benched = tensors(sys.argv[1]), tensors(sys.argv[2])
assert trained.keys() == benched.keys(), set(trained) ^ set(benched)
buffers = ("running_mean", "running_var", "num_batches_tracked")
params = [k for k in trained if not k.endswith(buffers)]
differ = [k for k in params if trained[k] != benched[k]]
assert not differ, f"{len(differ)} of {len(params)} parameters differ between finch train and finch bench e2e, e.g. {differ[:4]}"
print(f"finch bench e2e = finch train after 4 steps on 2 ranks: {len(params)} parameters bitwise equal")
PY
  ;;

kill9_rank1)
  # kill -9 of rank 1 in the middle of a step: the job ends non-zero within a bounded time (the
  # launcher, or at the latest dist.timeout_s, here 30 s), naming the lost rank; the last checkpoint
  # is intact and --resume auto continues from it.
  name=kill9_mpirun
  k9=(--config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" --name "$name"
      --set logging.every_steps=1 --set train.epochs=3 --set checkpoint.every_steps=4 --set dist.timeout_s=30)
  start_np2 "$name" 6 "${k9[@]}"
  victim_pid=$(rank_pid "$name" 1)
  [ -n "$victim_pid" ] || { echo "rank 1 not found"; kill "$launcher"; exit 1; }
  killed_at=$(date +%s)
  kill -9 "$victim_pid"
  wait_launcher
  took=$(( $(date +%s) - killed_at ))
  echo "job ended $took s after kill -9 of rank 1, exit $rc"
  [ "$rc" != 0 ] && [ "$took" -le 60 ] || { echo "expected a non-zero exit within 60 s"; tail -20 "$work/$name.out"; exit 1; }
  grep -Eq "rank 1 .*(signal 9|Killed)|rank 1: .*(died|lost)" "$work/$name.out" || { echo "the lost rank is not named:"; tail -20 "$work/$name.out"; exit 1; }
  ! pgrep -f "$finch train .*--name $name" >/dev/null || { echo "ranks left running"; exit 1; }
  "$finch" inspect --checkpoint "$work/runs/$name" >"$work/$name.inspect"
  step=$(sed -n 's/.*global step \([0-9]*\);.*/\1/p' "$work/$name.inspect")
  [ "$step" -ge 4 ] || { cat "$work/$name.inspect"; exit 1; }
  "${mpiexec[@]}" -n 2 "$finch" train "${k9[@]}" --set train.epochs=1 --resume auto >"$work/$name.resume.out" 2>&1 \
    || { echo "the resume must finish"; tail "$work/$name.resume.out"; exit 1; }
  grep -q "resumed from .*global step $step, saved by 2 rank(s), now 2" "$work/runs/$name/train.log"
  ;;

inspect_checkpoint)
  # finch inspect --checkpoint on the run np2.learns left: intact, then with one flipped byte.
  ck=$work/inspect_ck
  rm -rf "$ck" && cp -r "$dir/checkpoints/$(cat "$dir/checkpoints/latest")" "$ck"
  # a config that differs from the checkpoint's own in one key
  /usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; c["train"]["epochs"]=99; json.dump(c, open(sys.argv[2],"w"))' \
    "$ck/state.json" "$work/inspect_config.json"
  "$finch" inspect --checkpoint "$dir" --config "$work/inspect_config.json" >"$work/inspect.out"
  grep -q "model.safetensors .* ok" "$work/inspect.out" && grep -q "optimizer.safetensors .* ok" "$work/inspect.out"
  grep -q "written by [12] rank(s)" "$work/inspect.out"
  grep -q "config     1 key(s) differ" "$work/inspect.out" && grep -q "train.epochs  .*checkpoint [0-9]*  .*inspect_config.json 99" "$work/inspect.out" \
    || { cat "$work/inspect.out"; exit 1; }
  "$finch" inspect --checkpoint "$ck" --json >"$work/inspect.json"
  /usr/bin/python3 - "$work/inspect.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["intact"] and j["epoch_complete"] and j["world_size"] in (1, 2) and all(f["ok"] for f in j["files"]), j
assert j["resumes_at"]["epoch"] == j["epoch"] + 1 and j["model"]["tensors"] > 300, j
PY
  printf '\xff' | dd of="$ck/model.safetensors" bs=1 seek=5000 conv=notrunc status=none
  set +e
  "$finch" inspect --checkpoint "$ck" >"$work/inspect_bad.out" 2>&1
  rc=$?
  set -e
  [ "$rc" = 1 ] || { echo "a corrupt checkpoint must exit 1, got $rc"; exit 1; }
  grep -q "model.safetensors .* BAD" "$work/inspect_bad.out"
  grep -q "finch: error: '$ck/model.safetensors' does not match its checksum" "$work/inspect_bad.out"
  grep -q "optimizer.safetensors .* ok" "$work/inspect_bad.out"
  ;;

disk_full)
  # A checkpoint written to a full disk (a real 1-epoch run copied onto a small tmpfs in a private
  # mount namespace, so that the next checkpoint cannot fit). Run inside the namespace: disk_full_in.
  command -v unshare >/dev/null && unshare -m true 2>/dev/null || { echo "disk_full: needs unshare -m (root)"; exit 77; }
  src=$work/runs/disk_src
  rm -rf "$src"
  "${mpiexec[@]}" -n 2 "$finch" train --config "$here/smoke.json" --set data.root="$work/data" --set output_dir="$work/runs" \
    --name disk_src --set train.epochs=1 >"$work/disk_src.out" 2>&1 || { tail "$work/disk_src.out"; exit 1; }
  unshare -m --propagation private bash "$0" disk_full_in "$finch" "${mpiexec[@]}"
  ;;

disk_full_in)
  src=$work/runs/disk_src
  mnt=$work/disk
  mkdir -p "$mnt"
  fill() {  # a fresh tmpfs holding a copy of the 1-epoch run, with `free` KiB left beyond `ballast` KiB
    if mountpoint -q "$mnt"; then umount "$mnt"; fi
    local used; used=$(du -sk "$src" | cut -f1)
    mount -t tmpfs -o size=$((used + $1 + $2 + 512))k finch-disk-full "$mnt"
    cp -a "$src" "$mnt/run"
    if [ "$2" -gt 0 ]; then head -c $(($2 * 1024)) /dev/zero >"$mnt/ballast"; fi
  }
  ck_mb=$(( $(du -sk "$src/checkpoints/ckpt-0000000010" | cut -f1) / 1024 ))
  resume=(--config "$mnt/run/config.json" --resume auto --set output_dir="$mnt" --name run)
  intact() {  # the 1-epoch checkpoints are untouched, `latest` still names them, no temporary files
    [ "$(cat "$mnt/run/checkpoints/latest")" = ckpt-0000000010 ] || { echo "latest moved"; exit 1; }
    "$finch" inspect --checkpoint "$mnt/run/checkpoints/ckpt-0000000010" >/dev/null
    "$finch" inspect --checkpoint "$mnt/run/checkpoints/best" >/dev/null
    ! ls -a "$mnt/run/checkpoints" | grep -q tmp || { echo "temporary files left:"; ls -a "$mnt/run/checkpoints"; exit 1; }
  }

  echo "== checkpoint.on_error=fail (the default): both ranks exit 1, the error names the path"
  fill $((ck_mb * 1024 / 2)) 0
  set +e
  timeout 300 "${mpiexec[@]}" -n 2 "$finch" train "${resume[@]}" --set train.epochs=2 >"$work/disk_fail.out" 2>&1
  rc=$?
  set -e
  [ "$rc" = 1 ] || { echo "expected exit 1, got $rc"; tail "$work/disk_fail.out"; exit 1; }
  grep -q "finch: error: checkpoint not written: cannot write '$mnt/run/checkpoints/\.[a-z0-9-]*\.tmp/[a-z]*\.safetensors\(\.tmp\)\?': No space left on device" "$work/disk_fail.out" \
    || { grep "error" "$work/disk_fail.out"; exit 1; }
  [ "$(grep -c "checkpoint not written" "$work/disk_fail.out")" = 1 ] || { echo "the error must be printed once"; exit 1; }
  intact

  echo "== checkpoint.on_error=warn: training goes on; the next checkpoint, once there is room, is written"
  fill $((ck_mb * 1024 / 2)) $((ck_mb * 1024 * 3))
  "${mpiexec[@]}" -n 2 "$finch" train "${resume[@]}" --set train.epochs=3 --set checkpoint.on_error=warn >"$work/disk_warn.out" 2>&1 &
  launcher=$!
  for _ in $(seq 1 900); do grep -q "checkpoint not written" "$mnt/run/train.log" && break; sleep 0.2; done
  intact
  rm "$mnt/ballast"  # room again
  set +e
  timeout 300 tail --pid="$launcher" -f /dev/null
  wait "$launcher"
  rc=$?
  set -e
  [ "$rc" = 0 ] || { echo "on_error=warn: expected exit 0, got $rc"; tail "$work/disk_warn.out"; exit 1; }
  grep -q "checkpoint not written: cannot write .*No space left on device; training goes on" "$mnt/run/train.log"
  [ "$(cat "$mnt/run/checkpoints/latest")" = ckpt-0000000030 ] || { echo "the retry did not write ckpt-30"; exit 1; }
  "$finch" inspect --checkpoint "$mnt/run" | grep -q "epoch 2 complete"
  grep -q '"reason":"max_epochs"' "$mnt/run/metrics.jsonl"
  umount "$mnt"
  ;;

config_error_one_rank)
  # Rank 1's data root does not exist: the ranks agree on the error and all exit.
  set +e
  timeout 120 "${mpiexec[@]}" -n 2 bash -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then r=/nonexistent; else r='"$work/data"'; fi; exec '"$finch"' train --config '"$here/smoke.json"' --set data.root=$r --set output_dir='"$work/runs"' --name config_error' >"$work/config_error.out" 2>&1
  rc=$?
  set -e
  grep "finch: error" "$work/config_error.out" || true
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || { echo "expected a clean failure, got exit $rc"; exit 1; }
  grep -q "rank 1: key 'data.root': '/nonexistent' does not exist" "$work/config_error.out"
  ;;

failed_start)
  rm -rf "$work/runs/typo"
  typo=(--config "$here/smoke.json" --set output_dir="$work/runs" --name typo --set train.max_steps=2)
  for bad in "data.root=$work/dta" "model.classes=7"; do
    set +e
    timeout 120 "${mpiexec[@]}" -n 2 "$finch" train "${typo[@]}" --set data.root="$work/data" --set "$bad" >"$work/typo.out" 2>&1
    rc=$?
    set -e
    grep "finch: error" "$work/typo.out" | head -2
    [ "$rc" = 2 ] || { echo "--set $bad: expected exit 2, got $rc"; exit 1; }
    [ ! -e "$work/runs/typo" ] || { echo "--set $bad: the failed start left $work/runs/typo behind:"; find "$work/runs/typo"; exit 1; }
  done
  "${mpiexec[@]}" -n 2 "$finch" train "${typo[@]}" --set data.root="$work/data" >"$work/typo.out" 2>&1 ||
    { cat "$work/typo.out"; echo "the corrected command failed"; exit 1; }
  grep -q "device cpu" "$work/runs/typo/train.log"   # logged before the run directory existed
  grep -q "done (train.max_steps)" "$work/runs/typo/train.log"
  ;;

ema_from_plain)
  # A run without an EMA continued with train.ema on (a new run from its latest checkpoint): the
  # EMA starts from the checkpoint's model weights, with a warning, and the new checkpoints hold it.
  rm -rf "$work/runs/ema_from_plain"
  done_epochs=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["epoch"] + 1)' "$dir/checkpoints/$(cat "$dir/checkpoints/latest")/state.json")
  "$finch" train "${run[@]:0:6}" --set train.epochs=$((done_epochs + 1)) --set train.ema.enabled=true --resume "$dir" --resume-into-new-run ema_from_plain \
    >"$work/ema_from_plain.out" 2>&1 || { tail "$work/ema_from_plain.out"; exit 1; }
  grep -q "holds no EMA weights (train.ema was off): the EMA starts from its model weights" "$work/ema_from_plain.out" ||
    { tail "$work/ema_from_plain.out"; exit 1; }
  new=$work/runs/ema_from_plain/checkpoints
  [ -s "$new/$(cat "$new/latest")/ema.safetensors" ] || { echo "the continued run's checkpoint has no EMA"; exit 1; }
  # decay 0.9998 over one epoch: the EMA is still all but the weights it started from
  PYTHONPATH="$here" /usr/bin/python3 - "$dir/checkpoints/$(cat "$dir/checkpoints/latest")/model.safetensors" "$new/$(cat "$new/latest")/ema.safetensors" <<'PY'
import struct, sys
from safetensors_raw import tensors
start, ema = tensors(sys.argv[1]), tensors(sys.argv[2])
w = "features.0.0.weight"
a = struct.unpack(f"<{len(start[w][2]) // 4}f", start[w][2])
b = struct.unpack(f"<{len(ema[w][2]) // 4}f", ema[w][2])
rel = sum(abs(x - y) for x, y in zip(a, b)) / sum(abs(x) for x in a)
assert rel < 0.02, f"the EMA's stem is {rel:.3f} away from the checkpoint it started from: not started from its weights"
print(f"EMA started from the checkpoint's weights: stem {rel:.5f} away after one epoch")
PY
  grep -q "val (EMA)" "$work/runs/ema_from_plain/train.log"
  ;;

eval_tta)
  # eval.tta through the command line: `eval --tta hflip` and `--tta none` on the smoke run give
  # different losses (the mirror's logits are averaged in), and `predict --tta` different probabilities.
  for t in none hflip; do
    "$finch" eval --checkpoint "$dir" --tta $t --json >"$work/eval_tta.$t.json" 2>"$work/eval_tta.$t.err" || { cat "$work/eval_tta.$t.err"; exit 1; }
    # a glob, not `ls | head -1`: under pipefail, ls killed by SIGPIPE once its list passed 4 KiB
    # (a long build path) failed this test in CI, 61 times in 500 here with a longer $WORK
    imgs=("$work"/data/images/001.*/*.jpg) && img=${imgs[0]}
    "$finch" predict --checkpoint "$dir" --tta $t --json --image "$img" >"$work/predict_tta.$t.json"
  done
  /usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
e = {t: json.load(open(f"{w}/eval_tta.{t}.json")) for t in ("none", "hflip")}
p = {t: json.load(open(f"{w}/predict_tta.{t}.json"))[0]["top"][0]["probability"] for t in ("none", "hflip")}
assert e["none"]["loss"] != e["hflip"]["loss"], ("--tta changed nothing in eval", e)
assert p["none"] != p["hflip"], ("--tta changed nothing in predict", p)
print(f"eval loss {e['none']['loss']:.4f} (none) vs {e['hflip']['loss']:.4f} (hflip); top probability {p['none']:.4f} vs {p['hflip']:.4f}")
PY
  ;;

ranks_disagree)
  # Rank 1 launched differently from rank 0 (its own --set, its own environment): every rank stops
  # with exit 2 naming rank 1 and the first key that differs, before a run directory exists. Another
  # batch size once trained with exit 0; another head ended in "MPI_Bcast failed: MPI_ERR_TRUNCATE";
  # a bad FINCH_FAULT_SIGNAL once left a run directory that refused the corrected command.
  rm -rf "$work/runs/disagree"
  for case in "--set train.batch_size=4|key 'train.batch_size' (4 here, 8 on rank 0)" \
              "--set model.head.hidden=16|key 'model.head.hidden' (16 here, 0 on rank 0)" \
              "env FINCH_FAULT_SIGNAL=garbage|FINCH_FAULT_SIGNAL='garbage': expected RANK:STEP:SIG"; do
    extra=${case%%|*} want=${case#*|}
    set +e
    timeout 120 "${mpiexec[@]}" -n 2 bash -c 'extra=(); pre=(); if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then case "$1" in env*) pre=(env "${1#env }");; *) extra=($1);; esac; fi
      shift; exec "${pre[@]}" "$@" "${extra[@]}"' _ "$extra" "$finch" train --config "$here/smoke.json" --set data.root="$work/data" \
      --set output_dir="$work/runs" --name disagree --set train.max_steps=2 >"$work/disagree.out" 2>&1
    rc=$?
    set -e
    grep "finch: error" "$work/disagree.out" | head -2
    [ "$rc" = 2 ] || { echo "$extra on rank 1: expected exit 2, got $rc"; tail -5 "$work/disagree.out"; exit 1; }
    grep -qF "finch: error: rank 1: " "$work/disagree.out" && grep -qF "$want" "$work/disagree.out" ||
      { echo "$extra on rank 1: the error does not name rank 1 and: $want"; exit 1; }
    [ ! -e "$work/runs/disagree" ] || { echo "$extra on rank 1: a run directory was left behind"; exit 1; }
  done
  ;;

early_signal_rank1)
  # SIGTERM to rank 1 as soon as its handlers are in place (they are installed before MPI starts,
  # train::StopSignals): every rank exits 75 with nothing written, not 143. It once died by the
  # signal when it came in the first 0.15 s.
  rm -rf "$work/runs/early"
  "${mpiexec[@]}" -n 2 "$finch" train --config "$here/smoke.json" --set data.root="$work/data" \
    --set output_dir="$work/runs" --name early >"$work/early.out" 2>&1 &
  launcher=$!
  pid=""
  for _ in $(seq 1 3000); do
    [ -n "$pid" ] || pid=$(rank_pid early 1)
    if [ -n "$pid" ]; then
      mask=$(awk '/^SigCgt:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [ -n "$mask" ] && (( 0x$mask & 0x4000 )) && break  # SIGTERM (15) caught: bit 14
    fi
    sleep 0.002
  done
  [ -n "$pid" ] || { echo "rank 1 not found"; kill "$launcher"; exit 1; }
  kill -TERM "$pid"
  wait_launcher
  [ "$rc" = 75 ] || { echo "expected exit 75, got $rc"; tail -5 "$work/early.out"; exit 1; }
  grep -q "SIGTERM before training began: stopping with nothing to save" "$work/early.out"
  [ ! -e "$work/runs/early" ] || { echo "a run directory was created"; exit 1; }
  ;;

*)
  echo "unknown scenario '$scenario'" >&2
  exit 2
  ;;
esac
echo "e2e $scenario: passed"
