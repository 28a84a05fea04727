#include "finch/core/trace.h"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "finch/core/atomic_file.h"
#include "finch/core/clock.h"
#include "finch/core/error.h"

namespace finch::trace {
namespace {

struct Event {
  std::string name;
  const char* category;
  int tid;
  int64_t ts_us, dur_us;
};

struct Recorder {
  std::atomic<bool> on{false};
  std::mutex m;
  Clock::time_point zero;
  int rank = 0;
  std::vector<Event> events;
  std::map<int, std::string> thread_names;
  std::atomic<int> next_tid{1};
};

Recorder& recorder() {
  static Recorder r;
  return r;
}

int this_tid() {
  thread_local const int tid = recorder().next_tid.fetch_add(1);
  return tid;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - recorder().zero).count();
}

}  // namespace

bool recording() { return recorder().on.load(std::memory_order_relaxed); }

Span::Span(const char* name, const char* category) : category_(category) {
  if (!recording()) return;
  name_ = name;
  begin_us_ = now_us();
}

Span::Span(std::string name, const char* category) : category_(category) {
  if (!recording()) return;
  name_ = std::move(name);
  begin_us_ = now_us();
}

Span::~Span() {
  if (begin_us_ < 0 || !recording()) return;
  const int64_t end = now_us();
  auto& r = recorder();
  std::lock_guard<std::mutex> lock(r.m);
  r.events.push_back({std::move(name_), category_, this_tid(), begin_us_, end - begin_us_});
}

void name_thread(const std::string& name) {
  auto& r = recorder();
  std::lock_guard<std::mutex> lock(r.m);
  r.thread_names.emplace(this_tid(), name);
}

void start(int rank) {
  auto& r = recorder();
  {
    std::lock_guard<std::mutex> lock(r.m);
    r.events.clear();
    r.rank = rank;
    r.zero = Clock::now();
    r.thread_names[this_tid()] = "training";
  }
  r.on.store(true);
}

size_t stop_and_write(const std::filesystem::path& path) {
  auto& r = recorder();
  r.on.store(false);
  std::lock_guard<std::mutex> lock(r.m);
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", r.rank}, {"tid", 0}, {"args", {{"name", fmt::format("rank {}", r.rank)}}}});
  events.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", r.rank}, {"tid", 0}, {"args", {{"sort_index", r.rank}}}});
  std::set<int> used;  // tracks with spans (a process has reduce threads that reduce nothing)
  for (const auto& e : r.events) used.insert(e.tid);
  for (const auto& [tid, name] : r.thread_names)
    if (used.count(tid)) events.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", r.rank}, {"tid", tid}, {"args", {{"name", name}}}});
  for (const auto& e : r.events)
    events.push_back({{"ph", "X"}, {"name", e.name}, {"cat", e.category}, {"pid", r.rank}, {"tid", e.tid}, {"ts", e.ts_us}, {"dur", e.dur_us}});
  const size_t n = r.events.size();
  r.events.clear();
  write_file_atomically(path, nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump() + "\n");
  return n;
}

std::optional<std::pair<int64_t, int64_t>> parse_steps(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const auto bad = [&] {
    return ConfigError(fmt::format("logging.trace_steps: '{}' is not A:B, the global steps A to B with 1 <= A <= B (e.g. \"20:25\")", text));
  };
  const auto colon = text.find(':');
  if (colon == std::string::npos) throw bad();
  try {
    size_t used_a = 0, used_b = 0;
    const long long a = std::stoll(text.substr(0, colon), &used_a), b = std::stoll(text.substr(colon + 1), &used_b);
    if (used_a != colon || used_b != text.size() - colon - 1 || a < 1 || b < a) throw bad();
    return std::make_pair(static_cast<int64_t>(a), static_cast<int64_t>(b));
  } catch (const std::logic_error&) {  // stoll: not a number, out of range
    throw bad();
  }
}

}  // namespace finch::trace
