#include "finch/data/packed.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <map>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "finch/core/worker_threads.h"
#include "finch/core/bounded_json.h"
#include "finch/core/atomic_file.h"
#include "finch/core/error.h"
#include "finch/core/regular_file.h"
#include "finch/data/image_ops.h"

namespace finch::data {
namespace {

constexpr char kMagic[8] = {'F', 'I', 'N', 'C', 'H', 'P', 'K', '1'};
constexpr size_t kAlign = 64;  // each image starts cache-line aligned

struct Entry {
  int64_t h = 0, w = 0, orig_h = 0, orig_w = 0;
  uint64_t offset = 0, bytes = 0;
  std::string path;
};

class PackedSource final : public ImageSource {
 public:
  explicit PackedSource(const std::string& path) : path_(path) {
    const int fd = open_regular_fd(path);  // Note [Only regular files are opened]
    if (fd < 0) throw RuntimeError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    struct stat st {};
    ::fstat(fd, &st);
    size_ = static_cast<size_t>(st.st_size);
    auto bad = [&](const std::string& why) {
      ::close(fd);
      return RuntimeError(fmt::format("'{}' is not a valid finch packed dataset: {}", path, why));
    };
    if (size_ < 32) throw bad("file too short");
    base_ = static_cast<uint8_t*>(::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0));
    ::close(fd);
    if (base_ == MAP_FAILED) throw RuntimeError(fmt::format("cannot mmap '{}': {}", path, std::strerror(errno)));
    try {  // a refused file is unmapped again (the destructor does not run for a throwing constructor)
      read_index();
    } catch (...) {
      ::munmap(base_, size_);
      throw;
    }
  }
  ~PackedSource() override { ::munmap(base_, size_); }

  size_t size() const override { return entries_.size(); }
  const SampleInfo& info(size_t i) const override { return infos_[i]; }
  const std::vector<std::string>& class_names() const override { return classes_; }
  std::string name(size_t i) const override { return fmt::format("{}[{}]", path_, entries_[i].path); }
  std::string describe() const override {
    return fmt::format("packed file {} ({} images, {} encoding, from {})", path_, size(), encoding_, source_);
  }
  std::optional<std::pair<int64_t, int64_t>> original_size(size_t i) const override {
    return std::make_pair(entries_[i].orig_h, entries_[i].orig_w);
  }
  at::Tensor decode(size_t i, int) const override {  // stored at the packed size: no reduced decode
    const Entry& e = entries_[i];
    const uint8_t* p = base_ + e.offset;
    if (encoding_ == "raw")  // zero-copy view of the mapping (read-only use)
      return at::from_blob(const_cast<uint8_t*>(p), {e.h, e.w, 3}, at::kByte);
    return decode_jpeg_bytes(p, e.bytes, name(i));
  }

 private:
  void read_index() {
    const std::string& path = path_;
    auto fail = [&](const std::string& why) { return RuntimeError(fmt::format("'{}' is not a valid finch packed dataset: {}", path, why)); };
    if (std::memcmp(base_, kMagic, 8) != 0) throw fail("wrong magic (not written by `finch pack`?)");
    if (std::memcmp(base_ + size_ - 8, kMagic, 8) != 0) throw fail("no index at the end of the file (truncated or still being written?)");
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; --k) hlen = (hlen << 8) | base_[size_ - 16 + k];
    if (hlen > size_ - 24) throw fail("index length runs past the start of the file");
    const uint8_t* index = base_ + size_ - 16 - hlen;
    const auto header = parse_bounded_json(std::string_view(reinterpret_cast<const char*>(index), hlen));
    if (header.is_discarded() || !header.is_object()) throw fail("index is not valid JSON");
    const uint64_t data_end = size_ - 16 - hlen;
    try {
      encoding_ = header.at("encoding").get<std::string>();
      classes_ = header.at("classes").get<std::vector<std::string>>();
      source_ = header.value("source", "");
      for (const auto& e : header.at("images")) {
        Entry en;
        en.h = e.at("h");
        en.w = e.at("w");
        en.orig_h = e.at("orig_h");
        en.orig_w = e.at("orig_w");
        en.offset = e.at("offset");
        en.bytes = e.at("bytes");
        en.path = e.at("path");
        SampleInfo info;
        info.label = e.at("label");
        info.is_train = e.at("train");
        info.is_val = e.value("val", false);
        // What `finch pack` writes, and nothing else: sizes that fit an image finch would decode,
        // a box of four finite numbers with a positive size.
        auto pixels_ok = [](int64_t h, int64_t w) { return h >= 1 && w >= 1 && h <= kMaxImagePixels && w <= kMaxImagePixels / h; };
        if (!pixels_ok(en.h, en.w))
          throw fail(fmt::format("image '{}' has size {} x {} (1 to {} pixels expected)", en.path, en.h, en.w, kMaxImagePixels));
        if (!pixels_ok(en.orig_h, en.orig_w))
          throw fail(fmt::format("image '{}' has original size {} x {} (1 to {} pixels expected)", en.path, en.orig_h, en.orig_w, kMaxImagePixels));
        if (e.contains("bbox")) {
          const auto b = e["bbox"].get<std::vector<double>>();
          const bool finite = std::all_of(b.begin(), b.end(), [](double v) { return std::isfinite(v) && std::abs(v) < 1e9; });
          if (b.size() != 4 || !finite || b[0] < 0 || b[1] < 0 || b[2] <= 0 || b[3] <= 0)
            throw fail(fmt::format("image '{}' has bounding box {}: expected [x, y, width, height], finite, with a positive size",
                                   en.path, briefly(e["bbox"].dump())));
          info.bbox = BBox{static_cast<float>(b[0]), static_cast<float>(b[1]), static_cast<float>(b[2]), static_cast<float>(b[3])};
        }
        if (info.label < 0 || info.label >= static_cast<int>(classes_.size()))
          throw fail(fmt::format("image '{}' has label {} outside 0..{}", en.path, info.label, classes_.size() - 1));
        if (en.offset < 8 || en.offset + en.bytes > data_end || en.offset + en.bytes < en.offset)
          throw fail(fmt::format("image '{}' lies past the end of the file (truncated?)", en.path));
        if (encoding_ == "raw" && en.bytes != static_cast<uint64_t>(en.h * en.w * 3))
          throw fail(fmt::format("image '{}' holds {} bytes, {}x{}x3 needs {}", en.path, en.bytes, en.h, en.w, en.h * en.w * 3));
        entries_.push_back(std::move(en));
        infos_.push_back(info);
      }
    } catch (const nlohmann::json::exception& e) {
      throw fail(std::string("malformed header: ") + e.what());
    }
    if (encoding_ != "raw" && encoding_ != "jpeg") throw fail("unknown encoding '" + encoding_ + "'");
    if (encoding_ == "jpeg" && !have_jpeg_codec())
      throw RuntimeError(fmt::format("'{}' stores JPEG-encoded images, but this finch has no OpenCV (FINCH_WITH_OPENCV=OFF): "
                                     "repack with `finch pack --encoding raw`", path));
    }

  std::string path_, encoding_, source_;
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  std::vector<std::string> classes_;
  std::vector<Entry> entries_;
  std::vector<SampleInfo> infos_;
};

}  // namespace

bool is_packed_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;  // Note [Only regular files are opened]
  std::ifstream in = open_regular(path, std::ios::binary);
  char m[8] = {};
  return in.read(m, 8) && std::memcmp(m, kMagic, 8) == 0;
}

std::shared_ptr<ImageSource> open_packed(const std::string& path) { return std::make_shared<PackedSource>(path); }

void pack_items(size_t count, const std::function<PackItem(size_t)>& make, const std::vector<std::string>& class_names,
                const std::string& source, const std::string& out, const PackOptions& o,
                const std::function<void(size_t, size_t)>& progress) {
  // Worker threads prepare images into numbered slots, at most `window` ahead of the writer, which
  // writes them in index order: bounded memory, and the same file whatever the number of workers.
  struct Ready {
    CubImage meta;
    std::vector<uint8_t> bytes;
    int64_t h = 0, w = 0, orig_h = 0, orig_w = 0;
  };
  const size_t window = 64 + 4 * static_cast<size_t>(std::max(1, o.workers));
  std::map<size_t, Ready> ready;
  std::mutex m;
  std::condition_variable cv;
  size_t next = 0, written = 0;
  std::string error;

  auto worker = [&]() {
    while (true) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return !error.empty() || next >= count || next < written + window; });
        if (!error.empty() || next >= count) return;
        i = next++;
      }
      Ready r;
      try {
        PackItem item = make(i);
        r.meta = item.meta;
        r.orig_h = item.pixels.size(0);
        r.orig_w = item.pixels.size(1);
        at::Tensor px = o.short_side > 0 ? resize_short_side(item.pixels, o.short_side) : item.pixels.contiguous();
        r.h = px.size(0);
        r.w = px.size(1);
        if (o.encoding == "jpeg") {
          r.bytes = encode_jpeg(px, o.jpeg_quality);
        } else {
          r.bytes.resize(px.numel());
          std::memcpy(r.bytes.data(), px.data_ptr(), px.numel());
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(m);
        if (error.empty()) error = e.what();
        cv.notify_all();
        return;
      }
      std::lock_guard<std::mutex> lock(m);
      ready.emplace(i, std::move(r));
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads = start_threads(std::max(1, o.workers), [&](int) { worker(); }, [&] {
    {
      std::lock_guard<std::mutex> lock(m);
      if (error.empty()) error = "interrupted";
    }
    cv.notify_all();
  }, fmt::format("--workers {}", o.workers));
  auto join = [&] {
    {
      std::lock_guard<std::mutex> lock(m);
      if (error.empty() && written < count) error = "interrupted";
    }
    cv.notify_all();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  };

  nlohmann::json images = nlohmann::json::array();
  try {
    write_file_atomically(out, [&](std::FILE* f) {
      auto put = [&](const void* p, size_t n) {
        if (std::fwrite(p, 1, n, f) != n) throw RuntimeError(fmt::format("cannot write '{}': {}", out, std::strerror(errno)));
      };
      put(kMagic, 8);
      uint64_t offset = 8;
      const std::vector<char> zeros(kAlign, 0);
      while (written < count) {
        Ready r;
        {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return !error.empty() || ready.count(written); });
          if (!error.empty()) throw RuntimeError("pack: " + error);
          r = std::move(ready.at(written));
          ready.erase(written);
        }
        const size_t pad = (kAlign - offset % kAlign) % kAlign;
        put(zeros.data(), pad);
        offset += pad;
        nlohmann::json e = {{"id", r.meta.id}, {"path", r.meta.path}, {"label", r.meta.label}, {"train", r.meta.is_train},
                            {"h", r.h}, {"w", r.w}, {"orig_h", r.orig_h}, {"orig_w", r.orig_w}, {"offset", offset},
                            {"bytes", r.bytes.size()}};
        if (r.meta.is_val) e["val"] = true;
        if (r.meta.bbox) e["bbox"] = {r.meta.bbox->x, r.meta.bbox->y, r.meta.bbox->w, r.meta.bbox->h};
        images.push_back(std::move(e));
        put(r.bytes.data(), r.bytes.size());
        offset += r.bytes.size();
        {
          std::lock_guard<std::mutex> lock(m);
          ++written;
        }
        cv.notify_all();
        if (progress && (written % 256 == 0 || written == count)) progress(written, count);
      }
      const std::string index = nlohmann::json{{"version", 1}, {"encoding", o.encoding}, {"short_side", o.short_side},
                                               {"classes", class_names}, {"source", source}, {"images", images}}
                                    .dump();
      put(index.data(), index.size());
      uint8_t len[8];
      for (int k = 0; k < 8; ++k) len[k] = static_cast<uint8_t>(static_cast<uint64_t>(index.size()) >> (8 * k));
      put(len, 8);
      put(kMagic, 8);
    });
  } catch (...) {
    join();
    throw;
  }
  join();
}

void pack_source(const ImageSource& src, const std::string& root, const std::string& out, const PackOptions& o,
                 const std::function<void(size_t, size_t)>& progress) {
  pack_items(
      src.size(),
      [&](size_t i) {
        CubImage meta;
        meta.id = static_cast<int64_t>(i) + 1;
        meta.path = src.name(i);
        meta.label = src.info(i).label;
        meta.is_train = src.info(i).is_train;
        meta.is_val = src.info(i).is_val;
        meta.bbox = src.info(i).bbox;
        return PackItem{meta, src.decode(i, 1)};
      },
      src.class_names(), root, out, o, progress);
}

void pack_cub(const CubDataset& ds, const std::string& out, const PackOptions& o, const std::function<void(size_t, size_t)>& progress) {
  pack_items(
      ds.images.size(),
      [&](size_t i) { return PackItem{ds.images[i], decode_image_file(ds.image_path(i))}; },
      ds.class_names, ds.root, out, o, progress);
}

}  // namespace finch::data
