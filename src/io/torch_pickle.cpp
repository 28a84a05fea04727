// Reads torch.save files (zip archives: data.pkl + data/<key> storages) holding a state dict.
//
// LibTorch's own pickle_load cannot: its unpickler replaces collections.OrderedDict, which is what
// every nn.Module.state_dict() is, with None (it was written for TorchScript). So finch carries a
// small, strict unpickler for the subset of pickle protocol 2-5 that torch.save writes for state
// dicts, and uses LibTorch's zip reader (PyTorchStreamReader) for the archive. Anything outside that
// subset is an error naming the opcode, never a guess.
#include <caffe2/serialize/inline_container.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/io/weight_import.h"

namespace finch::io {
namespace {

struct Obj;
using Value = std::shared_ptr<Obj>;

struct Obj {
  enum Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor, kOpaque, kMark } kind;
  int64_t i = 0;
  double f = 0;
  std::string s, module, name;  // s: string value or storage key
  std::vector<Value> items;
  std::vector<std::pair<Value, Value>> dict;
  at::ScalarType dtype = at::kFloat;  // storages
  at::Tensor tensor;
};

Value make(Obj::Kind k) {
  auto v = std::make_shared<Obj>();
  v->kind = k;
  return v;
}

const std::map<std::string, at::ScalarType>& storage_types() {
  static const std::map<std::string, at::ScalarType> m = {
      {"FloatStorage", at::kFloat}, {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort}, {"CharStorage", at::kChar}, {"ByteStorage", at::kByte}, {"BoolStorage", at::kBool}};
  return m;
}

class StateDictUnpickler {
 public:
  StateDictUnpickler(const std::string& path, caffe2::serialize::PyTorchStreamReader& zip, const uint8_t* data, size_t size)
      : path_(path), zip_(zip), p_(data), end_(data + size) {}

  Value run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                                   // PROTO
        case 0x95: take(8); break;                                  // FRAME
        case '.': return pop();                                     // STOP
        case '(': push(make(Obj::kMark)); break;                    // MARK
        case 'N': push(make(Obj::kNone)); break;
        case 0x88: push(boolean(true)); break;                      // NEWTRUE
        case 0x89: push(boolean(false)); break;                     // NEWFALSE
        case 'K': push(integer(byte())); break;                     // BININT1
        case 'M': push(integer(le(2))); break;                      // BININT2
        case 'J': push(integer(static_cast<int32_t>(le(4)))); break;  // BININT
        case 0x8a: {                                                // LONG1
          const size_t n = byte();
          if (n > 8) fail("integer too large");
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
          top()->items.push_back(v);
          break;
        }
        case 'e': {                                                 // APPENDS
          auto items = pop_to_mark();
          auto& list = top()->items;
          list.insert(list.end(), items.begin(), items.end());
          break;
        }
        case 's': {                                                 // SETITEM
          auto v = pop(), k = pop();
          dict_target()->dict.emplace_back(k, v);
          break;
        }
        case 'u': {                                                 // SETITEMS
          auto items = pop_to_mark();
          if (items.size() % 2) fail("odd SETITEMS");
          auto target = dict_target();
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
  static Value boolean(bool b) {
    auto v = make(Obj::kBool);
    v->i = b;
    return v;
  }
  static Value integer(int64_t i) {
    auto v = make(Obj::kInt);
    v->i = i;
    return v;
  }
  static Value tuple(std::vector<Value> items) {
    auto v = make(Obj::kTuple);
    v->items = std::move(items);
    return v;
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

  // ('storage', torch.FloatStorage, key, location, numel) -> the storage's bytes as a 1-D tensor.
  Value persistent(const Value& pid) {
    if (pid->kind != Obj::kTuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != Obj::kGlobal || pid->items[2]->kind != Obj::kString)
      fail("unsupported persistent id (not a tensor storage)");
    const auto type = storage_types().find(pid->items[1]->name);
    if (type == storage_types().end()) fail("unsupported storage type " + pid->items[1]->name);
    const std::string& key = pid->items[2]->s;
    const int64_t numel = int_at(pid, 4);
    const std::string record = "data/" + key;
    if (!zip_.hasRecord(record)) fail("the archive has no record '" + record + "'");
    auto [data, nbytes] = zip_.getRecord(record);
    const size_t want = static_cast<size_t>(numel) * c10::elementSize(type->second);
    if (nbytes != want) fail(fmt::format("storage '{}' holds {} bytes, expected {}", key, nbytes, want));
    auto v = make(Obj::kStorage);
    v->tensor = at::empty({numel}, at::TensorOptions().dtype(type->second));
    std::memcpy(v->tensor.data_ptr(), data.get(), nbytes);
    return v;
  }

  Value reduce(const Value& fn, const Value& args) {
    if (fn->kind != Obj::kGlobal) fail("REDUCE of a non-callable");
    const std::string callee = fn->module + "." + fn->name;
    if (callee == "collections.OrderedDict") return make(Obj::kDict);
    if (callee == "torch._utils._rebuild_tensor_v2" || callee == "torch._utils._rebuild_tensor") {
      if (args->kind != Obj::kTuple || args->items.size() < 4 || args->items[0]->kind != Obj::kStorage)
        fail("malformed tensor record");
      const at::Tensor& storage = args->items[0]->tensor;
      const int64_t offset = int_at(args, 1);
      const auto size = ints(args->items[2]), stride = ints(args->items[3]);
      if (size.size() != stride.size()) fail("malformed tensor record");
      int64_t last = offset, numel = 1;  // the highest element index the view touches must lie in the storage
      for (size_t k = 0; k < size.size(); ++k) {
        if (size[k] < 0 || stride[k] < 0) fail("malformed tensor record");
        numel *= size[k];
        if (size[k] > 0) last += (size[k] - 1) * stride[k];
      }
      if (offset < 0 || (numel > 0 && last >= storage.numel())) fail("a tensor's view runs past its storage");
      auto v = make(Obj::kTensor);
      v->tensor = storage.as_strided(size, stride, offset).clone();
      return v;
    }
    if (callee == "torch._utils._rebuild_parameter") {
      if (args->kind != Obj::kTuple || args->items.empty() || args->items[0]->kind != Obj::kTensor) fail("malformed parameter");
      return args->items[0];
    }
    return make(Obj::kOpaque);  // e.g. backward-hook dicts: carried, never used
  }

  std::string path_;
  caffe2::serialize::PyTorchStreamReader& zip_;
  const uint8_t* p_;
  const uint8_t* end_;
  std::vector<Value> stack_;
  std::map<uint64_t, Value> memo_;
};

Value find_state_dict(const Value& root) {
  if (root->kind != Obj::kDict) return nullptr;
  const bool all_tensors = std::all_of(root->dict.begin(), root->dict.end(),
                                       [](const auto& kv) { return kv.second->kind == Obj::kTensor; });
  if (all_tensors && !root->dict.empty()) return root;
  for (const char* wrapper : {"state_dict", "model", "model_state_dict", "module"})
    for (const auto& [k, v] : root->dict)
      if (k->kind == Obj::kString && k->s == wrapper)
        if (auto inner = find_state_dict(v)) return inner;
  return nullptr;
}

}  // namespace

NamedTensors read_torch_state_dict(const std::string& path) {
  if (!std::ifstream(path)) throw RuntimeError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw RuntimeError(fmt::format("'{}' is not a torch.save zip archive (legacy non-zip .pth files: re-save with "
                                   "torch.save(torch.load(f), f) in PyTorch >= 1.6): {}",
                                   path, e.what_without_backtrace()));
  }
  if (!zip->hasRecord("data.pkl")) throw RuntimeError("'" + path + "' has no data.pkl: not a torch.save file");
  auto [pkl, size] = zip->getRecord("data.pkl");
  StateDictUnpickler unpickler(path, *zip, static_cast<const uint8_t*>(pkl.get()), size);
  const Value state = find_state_dict(unpickler.run());
  if (!state) throw RuntimeError(fmt::format("'{}' does not hold a state dict (a dict of tensors)", path));
  NamedTensors out;
  for (const auto& [k, v] : state->dict) {
    if (k->kind != Obj::kString) throw RuntimeError(fmt::format("'{}': a state-dict key is not a string", path));
    out.emplace_back(k->s, v->tensor);
  }
  return out;
}

}  // namespace finch::io
