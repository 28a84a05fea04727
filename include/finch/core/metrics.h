// metrics.jsonl: one JSON object per line, appended and flushed as it happens, so a crashed or
// preempted run keeps every record written before it stopped. Rank 0 only. With
// logging.tensorboard, every record is mirrored into TensorBoard's event file as it is written.
#pragma once

#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace finch {

class TensorBoardWriter;

class MetricsWriter {
 public:
  MetricsWriter() = default;  // disabled: write() does nothing (non-zero ranks)
  explicit MetricsWriter(const std::string& path);
  void write(const nlohmann::ordered_json& record);
  bool enabled() const { return out_.is_open(); }
  // Every later record goes to `tensorboard` too (TensorBoardWriter::record).
  void mirror_to(std::shared_ptr<TensorBoardWriter> tensorboard) { tensorboard_ = std::move(tensorboard); }
  TensorBoardWriter* tensorboard() const { return tensorboard_.get(); }

 private:
  std::ofstream out_;
  std::string path_;
  std::shared_ptr<TensorBoardWriter> tensorboard_;
};

}  // namespace finch
