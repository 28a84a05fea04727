// A one-line progress bar on stderr, as tqdm draws it: "epoch 3 [#########.....] 45/85 00:21<00:19 loss 1.23".
// Drawn only when enabled (rank 0 on a terminal, or logging.progress=on); otherwise every call is a no-op.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace finch {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled);
  // `done` of `total`; `extra` follows the times (loss, images/s).
  void update(int64_t done, const std::string& extra = "");
  // Ends the line (once; also on destruction).
  void finish();
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

// "mm:ss", or "h:mm:ss" from an hour on (tqdm's format).
std::string format_duration(double seconds);

}  // namespace finch
