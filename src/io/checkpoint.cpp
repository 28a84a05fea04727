#include "finch/io/checkpoint.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <fstream>

#include <fmt/format.h>

#include "finch/core/bounded_json.h"
#include "finch/core/regular_file.h"
#include "finch/core/atomic_file.h"
#include "finch/core/error.h"
#include "finch/io/safetensors.h"

namespace finch::io {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPrefix = "ckpt-";

std::string fnv1a64(const fs::path& path, uint64_t& bytes) {
  std::ifstream in = open_regular(path.string(), std::ios::binary);  // Note [Only regular files are opened]
  if (!in) throw RuntimeError("cannot read '" + path.string() + "'");
  uint64_t h = 0xcbf29ce484222325ULL;
  bytes = 0;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    for (size_t k = 0; k < n; ++k) h = (h ^ static_cast<uint8_t>(buf[k])) * 0x100000001b3ULL;
    bytes += n;
  }
  return fmt::format("{:016x}", h);
}

std::vector<std::string> periodic(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto n = e.path().filename().string();
    if (e.is_directory() && n.rfind(kPrefix, 0) == 0) names.push_back(n);
  }
  std::sort(names.rbegin(), names.rend());  // newest first (zero-padded steps)
  return names;
}

bool is_periodic_name(const std::string& name) {
  return name.size() == std::string(kPrefix).size() + 10 && name.rfind(kPrefix, 0) == 0 &&
         std::all_of(name.begin() + static_cast<std::ptrdiff_t>(std::string(kPrefix).size()), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

}  // namespace

// The checkpoint's tensor files, each with its tensors: model and optimizer always, the EMA's
// when there is one (train.ema; Note [EMA weights]).
static std::vector<std::pair<const char*, const NamedTensors*>> tensor_files(const CheckpointData& d) {
  std::vector<std::pair<const char*, const NamedTensors*>> files = {{"model.safetensors", &d.model}, {"optimizer.safetensors", &d.optimizer}};
  if (!d.ema.empty()) files.emplace_back(kEmaFile, &d.ema);
  return files;
}

std::string periodic_name(int64_t global_step) { return fmt::format("{}{:010d}", kPrefix, global_step); }

std::string write_checkpoint(const std::string& dir, const std::string& name, const CheckpointData& data) {
  const fs::path final_dir = fs::path(dir) / name, tmp = fs::path(dir) / ("." + name + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw RuntimeError("cannot create '" + tmp.string() + "': " + ec.message());
  try {  // everything goes into tmp/ first; a failure (a full disk) removes it and leaves the rest as it was
    nlohmann::json state = data.state;
    for (const auto& [f, tensors] : tensor_files(data)) {
      write_safetensors((tmp / f).string(), *tensors, {{"format", "finch"}});
      uint64_t bytes = 0;
      const auto sum = fnv1a64(tmp / f, bytes);
      // The tensor count too: a file replaced by an empty one whose checksum was updated (a
      // careless hand) would otherwise restore as "no optimizer state" without a word.
      state["files"][f] = {{"bytes", bytes}, {"fnv1a64", sum}, {"tensors", tensors->size()}};
    }
    write_file_atomically(tmp / "state.json", state.dump(2) + "\n");
    sync_directory(tmp);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // Replace an older checkpoint of the same name (e.g. best/) only once the new one is complete.
  const fs::path old = fs::path(dir) / ("." + name + ".old");
  fs::remove_all(old, ec);
  if (fs::exists(final_dir)) fs::rename(final_dir, old, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove_all(tmp, ec);
    if (fs::exists(old) && !fs::exists(final_dir)) fs::rename(old, final_dir, ec);  // the previous one comes back
    throw RuntimeError("cannot rename '" + tmp.string() + "' to '" + final_dir.string() + "': " + why);
  }
  fs::remove_all(old, ec);
  sync_directory(dir);
  return final_dir.string();
}

void set_latest(const std::string& dir, const std::string& name) {
  write_file_atomically(fs::path(dir) / "latest", name + "\n");
  sync_directory(dir);
}

CheckpointData read_checkpoint(const std::string& path) {
  const fs::path p(path);
  std::ifstream in = open_regular((p / "state.json").string());
  if (!in) throw RuntimeError(fmt::format("checkpoint '{}' has no readable state.json", path));
  CheckpointData d;
  std::string problem = "not an object";
  d.state = parse_bounded_json(std::string(std::istreambuf_iterator<char>(in), {}), &problem);
  if (d.state.is_discarded() || !d.state.is_object()) throw RuntimeError(fmt::format("'{}/state.json' is not valid JSON: {}", path, problem));
  for (const auto& c : verify_checkpoint_files(path, d.state))
    if (!c.problem.empty()) throw RuntimeError(c.problem);
  d.model = read_safetensors((p / "model.safetensors").string()).in_order();
  d.optimizer = read_safetensors((p / "optimizer.safetensors").string()).in_order();
  if (records_ema(d.state)) d.ema = read_safetensors((p / kEmaFile).string()).in_order();
  for (const auto& [f, tensors] : tensor_files(d)) {
    const auto& want = d.state["files"][f];  // checked to be an object above
    if (want.contains("tensors") && !(want["tensors"].is_number_unsigned() && want["tensors"].get<uint64_t>() == tensors->size()))  // checkpoints older than the count: none recorded
      throw RuntimeError(fmt::format("'{}' holds {} tensors, its state.json says {}: not the file this checkpoint wrote",
                                     (p / f).string(), tensors->size(), briefly(want["tensors"].dump())));
  }
  if (records_ema(d.state) && d.ema.empty())  // an emptied EMA file would read as "no EMA"
    throw RuntimeError(fmt::format("'{}' holds no tensors: not the file this checkpoint wrote", (p / kEmaFile).string()));
  return d;
}

std::vector<FileCheck> verify_checkpoint_files(const std::string& path, const nlohmann::json& state) {
  std::vector<FileCheck> checks;
  std::vector<const char*> files = {"model.safetensors", "optimizer.safetensors"};
  if (records_ema(state)) files.push_back(kEmaFile);
  for (const char* f : files) {
    FileCheck c;
    c.file = f;
    const fs::path file = fs::path(path) / f;
    const nlohmann::json want = state.contains("files") && state["files"].contains(f) ? state["files"][f] : nlohmann::json();
    if (!want.is_object() || !want.contains("bytes") || !want.contains("fnv1a64") || !want["bytes"].is_number_unsigned() ||
        !want["fnv1a64"].is_string()) {
      c.problem = fmt::format("'{}/state.json' records no checksum for {} (files.{}: bytes and fnv1a64)", path, f, f);
    } else if (!fs::exists(file)) {
      c.problem = fmt::format("checkpoint '{}' is missing {}", path, f);
    } else {
      c.expected_bytes = want.at("bytes").get<uint64_t>();
      c.expected_fnv1a64 = want.at("fnv1a64").get<std::string>();
      try {
        c.fnv1a64 = fnv1a64(file, c.bytes);
      } catch (const Error& e) {  // unreadable, or not a regular file: damaged like any other
        c.problem = e.what();
        checks.push_back(c);
        continue;
      }
      if (c.bytes != c.expected_bytes || c.fnv1a64 != c.expected_fnv1a64)
        c.problem = fmt::format("'{}' does not match its checksum in state.json ({} bytes, expected {}): corrupt or truncated",
                                file.string(), c.bytes, c.expected_bytes);
    }
    checks.push_back(c);
  }
  return checks;
}

std::string find_latest_checkpoint(const std::string& dir, std::vector<std::string>* notes) {
  std::vector<std::string> candidates;
  std::ifstream latest = open_regular((fs::path(dir) / "latest").string());
  std::string pointed;
  if (latest && std::getline(latest, pointed) && !pointed.empty()) {
    // A name of this folder only: a pointer to another place (`../other/ckpt-...`, an absolute
    // path) would make a resume or an eval read, and write next to, checkpoints of another run.
    if (is_periodic_name(pointed)) candidates.push_back(pointed);
    else if (notes) notes->push_back(fmt::format("ignoring {}/latest: '{}' is not a checkpoint name of that folder", dir, pointed));
  }
  for (const auto& n : periodic(dir))
    if (n != pointed) candidates.push_back(n);
  for (const auto& n : candidates) {
    const auto path = (fs::path(dir) / n).string();
    try {
      read_checkpoint(path);
      return path;
    } catch (const std::exception& e) {
      if (notes) notes->push_back(fmt::format("skipping checkpoint {}: {}", path, e.what()));
    }
  }
  return "";
}

std::vector<LaterCheckpoint> checkpoints_after(const std::string& dir, int64_t step) {
  std::vector<LaterCheckpoint> later;
  auto verify = [&](LaterCheckpoint c) {
    try {
      read_checkpoint((fs::path(dir) / c.name).string());
    } catch (const std::exception& e) {
      c.problem = e.what();
    }
    later.push_back(std::move(c));
  };
  for (const auto& n : periodic(dir)) {
    if (!is_periodic_name(n)) continue;
    const int64_t s = std::stoll(n.substr(std::string(kPrefix).size()));
    if (s > step) verify({n, s, ""});
  }
  if (fs::is_directory(fs::path(dir) / "best")) {
    int64_t s = -1;
    try {
      std::ifstream in = open_regular((fs::path(dir) / "best" / "state.json").string());
      s = parse_bounded_json(std::string(std::istreambuf_iterator<char>(in), {})).at("global_step").get<int64_t>();
    } catch (const std::exception&) {
    }
    if (s < 0 || s > step) verify({"best", s, ""});
  }
  return later;
}

std::string set_aside(const std::string& dir, const std::vector<std::string>& names) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  fs::path target = fs::path(dir) / fmt::format("set-aside-{}", stamp);
  for (int k = 2; fs::exists(target); ++k) target = fs::path(dir) / fmt::format("set-aside-{}-{}", stamp, k);
  std::error_code ec;
  fs::create_directory(target, ec);
  if (ec) throw RuntimeError(fmt::format("cannot create '{}': {}", target.string(), ec.message()));
  for (const auto& n : names) {
    fs::rename(fs::path(dir) / n, target / n, ec);
    if (ec) throw RuntimeError(fmt::format("cannot move '{}' to '{}': {}", (fs::path(dir) / n).string(), target.string(), ec.message()));
  }
  return target.string();
}

void prune_checkpoints(const std::string& dir, int keep) {
  const auto names = periodic(dir);
  std::error_code ec;
  for (size_t k = static_cast<size_t>(std::max(keep, 1)); k < names.size(); ++k) fs::remove_all(fs::path(dir) / names[k], ec);
}

}  // namespace finch::io
