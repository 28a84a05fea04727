// Checkpoint directories (written by rank 0):
//   checkpoints/ckpt-<global step, 10 digits>/   periodic (epoch ends, every N steps)
//   checkpoints/best/                            best validation metric so far
//   checkpoints/latest                           text file naming the newest periodic checkpoint
// each holding model.safetensors (torchvision names: Python loads it), optimizer.safetensors, with
// train.ema ema.safetensors (the averaged weights, the model's names), and state.json (epoch,
// step, sample offset, schedule, early stopping, seeds, world size, resolved config, finch/LibTorch
// versions, and the size, FNV-1a checksum and tensor count of each tensor file).
// A checkpoint is written under a temporary name, fsynced and renamed; `latest` is replaced
// atomically. Reading verifies sizes and checksums; finding the latest falls back to the previous
// intact checkpoint and says why.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "finch/io/named_tensors.h"

namespace finch::io {

struct CheckpointData {
  NamedTensors model;
  NamedTensors optimizer;
  nlohmann::json state;
  NamedTensors ema;  // empty: no EMA (written only when there is one)
};

inline constexpr const char* kEmaFile = "ema.safetensors";
// Whether a state.json records an EMA file among its tensor files.
inline bool records_ema(const nlohmann::json& state) {
  return state.is_object() && state.contains("files") && state["files"].is_object() && state["files"].contains(kEmaFile);
}

// Writes dir/name atomically (replacing an older dir/name); returns its path.
std::string write_checkpoint(const std::string& dir, const std::string& name, const CheckpointData& data);
void set_latest(const std::string& dir, const std::string& name);

// Reads and verifies a checkpoint directory; RuntimeError naming the file on any mismatch.
CheckpointData read_checkpoint(const std::string& path);

// One tensor file of a checkpoint against what its state.json records.
struct FileCheck {
  std::string file;                         // "model.safetensors"
  uint64_t bytes = 0, expected_bytes = 0;
  std::string fnv1a64, expected_fnv1a64;
  std::string problem;                      // empty: intact; else why not (names the path)
};
// The tensor files of the checkpoint directory `path` (model, optimizer, and the EMA's when `state`
// records one) checked against `state` (its state.json).
std::vector<FileCheck> verify_checkpoint_files(const std::string& path, const nlohmann::json& state);

// The newest intact periodic checkpoint of `dir` (the `latest` pointer first, then older ones by
// step); `notes` receives why a newer one was passed over. Empty when there is none. `latest` is
// followed only to a periodic checkpoint of `dir` itself (a name, not a path elsewhere).
std::string find_latest_checkpoint(const std::string& dir, std::vector<std::string>* notes = nullptr);

// A checkpoint of `dir` beyond a resume point: a periodic one of a higher step, or `best` when its
// state says a higher step (or cannot be read).
struct LaterCheckpoint {
  std::string name;      // "ckpt-0000000004", "best"
  int64_t step = -1;     // its global step (-1: unreadable)
  std::string problem;   // empty: intact; else why not
};
// Every checkpoint of `dir` beyond global step `step`, each verified (sizes, checksums), newest first.
std::vector<LaterCheckpoint> checkpoints_after(const std::string& dir, int64_t step);
// Moves the entries `names` of `dir` into a new folder dir/set-aside-<UTC time>/ (a suffix keeps it
// new) and returns its path: kept whole for a person to look at, out of the way of the names a run
// writes. RuntimeError naming the path when a move fails.
std::string set_aside(const std::string& dir, const std::vector<std::string>& names);

// Deletes periodic checkpoints beyond the newest `keep`.
void prune_checkpoints(const std::string& dir, int keep);

std::string periodic_name(int64_t global_step);

}  // namespace finch::io
