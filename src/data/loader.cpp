#include "finch/data/loader.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "finch/core/worker_threads.h"
#include "finch/core/error.h"
#include "finch/core/seed.h"

namespace finch::data {

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return derive_seed(seed, {seed_stream::kAugment, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)});
}

BatchLoader::BatchLoader(std::shared_ptr<const ImageSource> source, std::vector<int64_t> indices, const LoaderOptions& options)
    : source_(std::move(source)), indices_(std::move(indices)), o_(options) {
  if (o_.batch_size < 1) throw RuntimeError("loader: batch size must be >= 1");
  num_batches_ = (static_cast<int64_t>(indices_.size()) + o_.batch_size - 1) / o_.batch_size;
  threads_ = start_threads(o_.workers, [this](int w) { work(w); }, [this] {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
  }, fmt::format("data.workers {}", o_.workers));
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int64_t BatchLoader::skipped() const {
  std::lock_guard<std::mutex> lock(m_);
  return skipped_;
}

Batch BatchLoader::make_batch(int64_t b) const {
  const int64_t begin = b * o_.batch_size;
  const int64_t end = std::min<int64_t>(begin + o_.batch_size, static_cast<int64_t>(indices_.size()));
  const int64_t n = end - begin, S = o_.transform.size;
  auto opts = at::TensorOptions().dtype(at::kFloat).pinned_memory(o_.pin_memory);
  at::Tensor images = at::empty({n, 3, S, S}, opts, o_.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  std::vector<int64_t> labels, kept;
  for (int64_t k = begin; k < end; ++k) {
    const int64_t idx = indices_[k];
    try {
      const auto i = static_cast<size_t>(idx);
      const auto& info = source_->info(i);
      const Planned p = decode_planned(source_->original_size(i), [&](int reduction) { return source_->decode(i, reduction); },
                                       info.bbox, o_.transform, sample_seed(o_.seed, o_.epoch, idx));
      apply_transform(p.pixels, p.orig_h, p.orig_w, p.plan, o_.transform, images[static_cast<int64_t>(kept.size())]);
      labels.push_back(info.label);
      kept.push_back(idx);
    } catch (const std::exception& e) {
      if (!o_.skip_errors)
        throw RuntimeError(fmt::format("{} (data.on_error=fail; set data.on_error=skip to leave such images out)", e.what()));
      spdlog::warn("skipping {}: {}", source_->name(static_cast<size_t>(idx)), e.what());
    }
  }
  Batch out;
  out.skipped = n - static_cast<int64_t>(kept.size());
  out.images = kept.size() == static_cast<size_t>(n) ? images : images.narrow(0, 0, static_cast<int64_t>(kept.size()));
  // Labels pinned like the images: a non_blocking copy from pageable memory waits for the host.
  out.labels = at::empty({static_cast<int64_t>(labels.size())}, at::TensorOptions().dtype(at::kLong).pinned_memory(o_.pin_memory));
  std::copy(labels.begin(), labels.end(), out.labels.data_ptr<int64_t>());
  out.indices = at::tensor(kept, at::kLong);
  return out;
}

void BatchLoader::work(int worker) {
  // At least one batch in flight per worker: with fewer, workers would sit idle (prefetch 2 with 4
  // workers ran as 2).
  const int64_t in_flight = std::max<int64_t>(o_.prefetch, o_.workers);
  for (int64_t b = worker; b < num_batches_; b += o_.workers) {
    {
      std::unique_lock<std::mutex> lock(m_);
      cv_.wait(lock, [&] { return stop_ || b < consumed_ + in_flight; });
      if (stop_) return;
    }
    Batch batch;
    std::exception_ptr error;
    try {
      batch = make_batch(b);
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(m_);
    if (error) errors_[b] = error;
    else ready_[b] = std::move(batch);
    cv_.notify_all();
  }
}

std::optional<Batch> BatchLoader::next() {
  if (consumed_ >= num_batches_) return std::nullopt;
  const int64_t b = consumed_;
  Batch batch;
  if (o_.workers == 0) {
    batch = make_batch(b);
  } else {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return ready_.count(b) || errors_.count(b); });
    if (errors_.count(b)) std::rethrow_exception(errors_.at(b));
    batch = std::move(ready_.at(b));
    ready_.erase(b);
  }
  {
    std::lock_guard<std::mutex> lock(m_);
    ++consumed_;
    skipped_ += batch.skipped;
  }
  cv_.notify_all();
  return batch;
}

}  // namespace finch::data
