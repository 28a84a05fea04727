#include "finch/core/metrics.h"

#include <nlohmann/json.hpp>

#include "finch/core/error.h"
#include "finch/core/tensorboard.h"

namespace finch {

MetricsWriter::MetricsWriter(const std::string& path) : out_(path, std::ios::app), path_(path) {
  if (!out_) throw RuntimeError("cannot open '" + path + "' for appending");
}

void MetricsWriter::write(const nlohmann::ordered_json& record) {
  if (!out_.is_open()) return;
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) throw RuntimeError("cannot write to '" + path_ + "' (disk full?)");
  if (tensorboard_) tensorboard_->record(record);
}

}  // namespace finch
