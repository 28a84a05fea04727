#include "finch/core/tfrecord.h"

#include <boost/crc.hpp>

namespace finch {

uint32_t crc32c(const void* data, size_t size) {
  // Castagnoli's polynomial, reflected in and out, all ones in and out: CRC-32C.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data, size);
  return crc.checksum();
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tfrecord(const std::string& data) {
  auto put = [](std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));  // little-endian
  };
  std::string out, length;
  put(length, data.size(), 8);
  out += length;
  put(out, masked_crc32c(length.data(), length.size()), 4);
  out += data;
  put(out, masked_crc32c(data.data(), data.size()), 4);
  return out;
}

}  // namespace finch
