// TensorBoard event files (logging.tensorboard): rank 0 mirrors every scalar of metrics.jsonl into
// runs/<name>/tensorboard/events.out.tfevents.<time>.<host>.<pid>.finch, which TensorBoard (and
// anything reading its format: W&B's sync, tbparse) reads as it grows. The messages are TensorBoard's
// own (proto/tensorboard_event.proto, protobuf) in TFRecord framing (tfrecord.h).
//
// Note [TensorBoard across a resume]: a resumed run opens a new file in the same folder that starts
// with SessionLog.START at the first step it will take: TensorBoard's reader then drops every event
// an earlier session logged from that step on (the steps after the checkpoint that were logged
// before a crash, or a NaN stop), and the resumed run's values stand alone, as in metrics.jsonl
// read last-record-wins.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace finch {

class TensorBoardWriter {
 public:
  // False in a build without protobuf (FINCH_WITH_TENSORBOARD=OFF, or none found at configure time).
  static bool available();
  // What to install to get it, for the warning a build without it gives.
  static std::string unavailable_message();

  // Opens a new event file in `dir` (created). `first_step` >= 0: a resumed run, whose first
  // optimizer step will be that one (Note [TensorBoard across a resume]); -1: a fresh run.
  TensorBoardWriter(const std::filesystem::path& dir, int64_t first_step);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // A metrics.jsonl record as scalars: every number (and boolean, as 0/1) but "step" and "time",
  // tagged <group>/<field> (group: "train" for step records, else the record's kind), at the
  // record's "step" (else the last step seen), its "time" the wall time. "start" records are left
  // out (their facts are in the config text).
  void record(const nlohmann::ordered_json& record);
  // A text summary (TensorBoard's text plugin renders it as Markdown).
  void text(const std::string& tag, const std::string& markdown, int64_t step);
  const std::filesystem::path& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace finch
