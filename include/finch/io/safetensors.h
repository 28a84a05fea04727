// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the data.
//
// Reading mmaps the file; tensors alias the mapping (zero-copy) when their data is aligned for
// their dtype, and keep it alive. Every header field is checked against the file size before any
// byte of data is touched: a truncated or hostile file is a RuntimeError naming the file and the
// tensor, never a crash or an out-of-bounds read.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "finch/io/named_tensors.h"

namespace finch::io {

struct TensorFile {
  std::vector<std::string> names;              // in file order (by data offset)
  std::map<std::string, at::Tensor> tensors;   // CPU tensors
  std::map<std::string, std::string> metadata;

  const at::Tensor& at(const std::string& name) const;  // RuntimeError naming the missing key
  NamedTensors in_order() const;                         // every tensor, in file order
};

TensorFile read_safetensors(const std::string& path);

// Writes atomically (temporary file, fsync, rename). Tensors may be on any device and strided.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// "F32" <-> at::kFloat, ... (BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64).
std::string safetensors_dtype(at::ScalarType type);

}  // namespace finch::io
