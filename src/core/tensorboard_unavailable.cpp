// TensorBoardWriter for builds without protobuf (FINCH_WITH_TENSORBOARD=OFF, or none at configure
// time: GPU machines often lack it). The trainer asks available() first and warns instead.
#include "finch/core/error.h"
#include "finch/core/tensorboard.h"

namespace finch {

struct TensorBoardWriter::Impl {};

bool TensorBoardWriter::available() { return false; }
std::string TensorBoardWriter::unavailable_message() {
  return "this finch was built without TensorBoard support (protobuf and Boost's headers: apt-get install libprotobuf-dev "
         "protobuf-compiler libboost-dev, then rebuild), so logging.tensorboard writes no event files; metrics.jsonl has "
         "every scalar";
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path&, int64_t) { throw RuntimeError(unavailable_message()); }
TensorBoardWriter::~TensorBoardWriter() = default;
const std::filesystem::path& TensorBoardWriter::path() const { throw RuntimeError(unavailable_message()); }
void TensorBoardWriter::record(const nlohmann::ordered_json&) {}
void TensorBoardWriter::text(const std::string&, const std::string&, int64_t) {}

}  // namespace finch
