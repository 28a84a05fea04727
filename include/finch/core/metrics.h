// metrics.jsonl: one JSON object per line, appended and flushed as it happens, so a crashed or
// preempted run keeps every record written before it stopped. Rank 0 only.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace finch {

class MetricsWriter {
 public:
  MetricsWriter() = default;  // disabled: write() does nothing (non-zero ranks)
  explicit MetricsWriter(const std::string& path);
  void write(const nlohmann::ordered_json& record);
  bool enabled() const { return out_.is_open(); }

 private:
  std::ofstream out_;
  std::string path_;
};

}  // namespace finch
