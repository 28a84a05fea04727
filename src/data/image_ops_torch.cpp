// image_ops without OpenCV (GPU machines rarely have it): no JPEG codec, so raw CUB trees are
// refused with a clear message and packed datasets (raw encoding) are the input format. Resizing
// is shared with the OpenCV build (pil_resample.cpp).
#include <ATen/ATen.h>
#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/data/image_ops.h"

namespace finch::data {
namespace {

[[noreturn]] void no_codec(const std::string& what) {
  throw RuntimeError(fmt::format("cannot decode {}: this finch was built without OpenCV (FINCH_WITH_OPENCV=OFF), so it "
                                 "reads packed datasets with raw encoding only: run `finch pack` on a machine with OpenCV",
                                 what));
}

}  // namespace

bool have_jpeg_codec() { return false; }
at::Tensor decode_image_file(const std::string& path, int) { no_codec("'" + path + "'"); }
at::Tensor decode_jpeg_bytes(const uint8_t*, size_t, const std::string& what) { no_codec(what); }
std::vector<uint8_t> encode_jpeg(const at::Tensor&, int) { no_codec("(JPEG encoding)"); }
void write_jpeg(const std::string& path, const at::Tensor&, int) { no_codec("'" + path + "' (JPEG encoding)"); }

}  // namespace finch::data
