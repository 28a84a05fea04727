// TFRecord framing, the container of TensorBoard's event files: each record is its length (uint64,
// little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the data.
// Builds with TensorBoard support only (Boost.CRC).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace finch {

// CRC-32C (Castagnoli), as TensorFlow's crc32c::Value.
uint32_t crc32c(const void* data, size_t size);
// TensorFlow's mask: rotate right by 15 bits and add 0xa282ead8 (a CRC of data holding CRCs is weak).
uint32_t masked_crc32c(const void* data, size_t size);
// One framed record.
std::string tfrecord(const std::string& data);

}  // namespace finch
