// TensorBoard event files with protobuf's generated messages (proto/tensorboard_event.proto) in
// TFRecord framing. A write that fails (a full disk) warns once and stops the event file only:
// metrics.jsonl stays the run's record.
#include "finch/core/tensorboard.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "finch/core/error.h"
#include "finch/core/tfrecord.h"
#include "tensorboard_event.pb.h"

namespace finch {

struct TensorBoardWriter::Impl {
  std::filesystem::path path;
  std::ofstream out;
  int64_t last_step = 0;
  bool failed = false;

  static double now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

  void write(const tensorboard::Event& event) {
    if (failed) return;
    out << tfrecord(event.SerializeAsString());
    out.flush();  // a crash keeps every event written before it, as metrics.jsonl
    if (!out) {
      failed = true;
      spdlog::warn("cannot write to '{}' (disk full?): no more TensorBoard events this run; metrics.jsonl has every scalar",
                   path.string());
    }
  }
};

bool TensorBoardWriter::available() { return true; }
std::string TensorBoardWriter::unavailable_message() { return {}; }

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& dir, int64_t first_step) : impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw RuntimeError(fmt::format("cannot create '{}': {}", dir.string(), ec.message()));
  char host[256] = "host";
  gethostname(host, sizeof(host) - 1);
  // TensorBoard reads every file whose name holds "tfevents", in name order: the time first keeps
  // a resumed run's file after the earlier ones; the pid keeps two starts in one second apart.
  impl_->path = dir / fmt::format("events.out.tfevents.{:010d}.{}.{}.finch", static_cast<long long>(std::time(nullptr)), host,
                                  static_cast<long long>(getpid()));
  impl_->out.open(impl_->path, std::ios::binary | std::ios::app);
  if (!impl_->out) throw RuntimeError(fmt::format("cannot open '{}' for writing", impl_->path.string()));
  tensorboard::Event version;
  version.set_wall_time(Impl::now());
  version.set_file_version("brain.Event:2");  // version 2: SessionLog.START purges (Note [TensorBoard across a resume])
  impl_->write(version);
  if (first_step >= 0) {
    tensorboard::Event start;
    start.set_wall_time(Impl::now());
    start.set_step(first_step);
    start.mutable_session_log()->set_status(tensorboard::SessionLog::START);
    impl_->write(start);
    impl_->last_step = first_step > 0 ? first_step - 1 : 0;
  }
}

TensorBoardWriter::~TensorBoardWriter() = default;

const std::filesystem::path& TensorBoardWriter::path() const { return impl_->path; }

void TensorBoardWriter::record(const nlohmann::ordered_json& r) {
  const std::string kind = r.value("kind", std::string());
  if (kind.empty() || kind == "start") return;
  if (r.contains("step") && r["step"].is_number_integer()) impl_->last_step = r["step"].get<int64_t>();
  tensorboard::Event event;
  event.set_wall_time(Impl::now());
  event.set_step(impl_->last_step);
  const std::string group = kind == "step" ? "train" : kind;
  for (const auto& [key, value] : r.items()) {
    if (key == "kind" || key == "step" || key == "time") continue;
    double v = 0;
    if (value.is_number()) v = value.get<double>();
    else if (value.is_boolean()) v = value.get<bool>() ? 1 : 0;
    else continue;
    auto* s = event.mutable_summary()->add_value();
    s->set_tag(group + "/" + key);
    s->set_simple_value(static_cast<float>(v));
  }
  if (event.has_summary()) impl_->write(event);
}

void TensorBoardWriter::text(const std::string& tag, const std::string& markdown, int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(Impl::now());
  event.set_step(step);
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
  auto* t = v->mutable_tensor();
  t->set_dtype(tensorboard::DT_STRING);
  t->mutable_tensor_shape();  // a scalar string
  t->add_string_val(markdown);
  impl_->write(event);
}

}  // namespace finch
