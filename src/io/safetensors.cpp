#include "finch/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "finch/core/bounded_json.h"
#include "finch/core/atomic_file.h"
#include "finch/core/error.h"
#include "finch/core/regular_file.h"

namespace finch::io {
namespace {

struct DType {
  const char* name;
  at::ScalarType type;
  size_t size;
};

constexpr DType kDTypes[] = {
    {"BOOL", at::kBool, 1}, {"U8", at::kByte, 1},       {"I8", at::kChar, 1},    {"I16", at::kShort, 2},
    {"I32", at::kInt, 4},   {"I64", at::kLong, 8},      {"F16", at::kHalf, 2},   {"BF16", at::kBFloat16, 2},
    {"F32", at::kFloat, 4}, {"F64", at::kDouble, 8},
};

const DType* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

// A read-only view of a whole file, private copy-on-write so that in-place changes to a tensor
// never reach the file.
struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) ::munmap(addr, size);
  }
};

std::shared_ptr<Mapping> map_file(const std::string& path) {
  const int fd = open_regular_fd(path);  // Note [Only regular files are opened]
  if (fd < 0) throw RuntimeError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw RuntimeError(fmt::format("cannot stat '{}': {}", path, std::strerror(errno)));
  }
  auto m = std::make_shared<Mapping>();
  m->size = static_cast<size_t>(st.st_size);
  if (m->size > 0) {
    void* addr = ::mmap(nullptr, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      ::close(fd);
      throw RuntimeError(fmt::format("cannot mmap '{}': {}", path, std::strerror(errno)));
    }
    m->addr = addr;
  }
  ::close(fd);
  return m;
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

std::string safetensors_dtype(at::ScalarType type) {
  for (const auto& d : kDTypes)
    if (d.type == type) return d.name;
  throw RuntimeError(fmt::format("safetensors: no dtype for {}", c10::toString(type)));
}

const at::Tensor& TensorFile::at(const std::string& name) const {
  const auto it = tensors.find(name);
  if (it == tensors.end()) throw RuntimeError("tensor '" + name + "' not found");
  return it->second;
}

NamedTensors TensorFile::in_order() const {
  NamedTensors out;
  for (const auto& n : names) out.emplace_back(n, tensors.at(n));
  return out;
}

TensorFile read_safetensors(const std::string& path) {
  const auto map = map_file(path);
  auto bad = [&](const std::string& why) { return RuntimeError(fmt::format("'{}' is not a valid safetensors file: {}", path, why)); };
  if (map->size < 8) throw bad(fmt::format("the file is {} bytes, shorter than the 8-byte header length", map->size));
  const auto* bytes = static_cast<const uint8_t*>(map->addr);
  uint64_t header_len = 0;
  for (int k = 7; k >= 0; --k) header_len = (header_len << 8) | bytes[k];
  if (header_len > map->size - 8)
    throw bad(fmt::format("header length {} runs past the end of the file ({} bytes): truncated?", header_len, map->size));
  if (header_len < 2 || bytes[8] != '{') throw bad("the header does not start with a JSON object");
  nlohmann::json header = parse_bounded_json(std::string_view(reinterpret_cast<const char*>(bytes + 8), header_len));
  if (header.is_discarded() || !header.is_object()) throw bad("the header is not valid JSON");

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = map->size - data_start;
  TensorFile out;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw bad("__metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw bad(fmt::format("__metadata__ value of '{}' is not a string", k));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    auto tbad = [&](const std::string& why) { return bad(fmt::format("tensor '{}': {}", name, why)); };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw tbad("needs dtype, shape and data_offsets");
    if (!entry["dtype"].is_string()) throw tbad("dtype is not a string");
    const DType* dt = find_dtype(entry["dtype"].get<std::string>());
    if (!dt) throw tbad(fmt::format("unsupported dtype '{}'", entry["dtype"].get<std::string>()));
    const auto& shape_j = entry["shape"];
    if (!shape_j.is_array()) throw tbad("shape is not a list");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& s : shape_j) {
      if (!s.is_number_unsigned()) throw tbad("shape has a negative or non-integer dimension");
      const uint64_t d = s.get<uint64_t>();
      if (d > static_cast<uint64_t>(INT64_MAX) || mul_overflows(numel, d, &numel)) throw tbad("shape is too large");
      shape.push_back(static_cast<int64_t>(d));
    }
    uint64_t nbytes = 0;
    if (mul_overflows(numel, dt->size, &nbytes)) throw tbad("shape is too large");
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw tbad("data_offsets is not a pair of non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      throw tbad(fmt::format("data_offsets [{}, {}] are outside the {} data bytes of the file: truncated?", begin, end, data_size));
    if (end - begin != nbytes)
      throw tbad(fmt::format("data_offsets span {} bytes but {} {} needs {}", end - begin, entry["dtype"].get<std::string>(),
                             shape_j.dump(), nbytes));
    spans.push_back({begin, end, name});

    uint8_t* ptr = static_cast<uint8_t*>(map->addr) + data_start + begin;
    at::Tensor t;
    if (reinterpret_cast<uintptr_t>(ptr) % dt->size == 0) {
      auto keep = map;  // the tensor owns a reference to the mapping
      t = at::from_blob(ptr, shape, [keep](void*) {}, at::TensorOptions().dtype(dt->type));
    } else {
      t = at::empty(shape, at::TensorOptions().dtype(dt->type));
      std::memcpy(t.data_ptr(), ptr, nbytes);
    }
    out.tensors.emplace(name, std::move(t));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t k = 1; k < spans.size(); ++k)
    if (spans[k].begin < spans[k - 1].end && spans[k].end > spans[k].begin)
      throw bad(fmt::format("tensors '{}' and '{}' overlap", spans[k - 1].name, spans[k].name));
  for (const auto& s : spans) out.names.push_back(s.name);
  return out;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Largest element size first keeps every tensor aligned for zero-copy reads.
  std::vector<std::pair<std::string, at::Tensor>> order;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw RuntimeError("'__metadata__' cannot be a tensor name");
    order.emplace_back(name, t.detach().to(at::kCPU).contiguous());
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second.element_size() > b.second.element_size(); });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : order) {
    const uint64_t n = t.numel() * t.element_size();
    header[name] = {{"dtype", safetensors_dtype(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  write_file_atomically(path, [&](std::FILE* f) {
    uint8_t len[8];
    for (int k = 0; k < 8; ++k) len[k] = static_cast<uint8_t>(static_cast<uint64_t>(h.size()) >> (8 * k));
    bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
    for (const auto& [name, t] : order) {
      const size_t n = t.numel() * t.element_size();
      ok = ok && std::fwrite(t.data_ptr(), 1, n, f) == n;
    }
    if (!ok) throw RuntimeError(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  });
}

}  // namespace finch::io
