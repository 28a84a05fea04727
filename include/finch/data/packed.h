// The packed dataset: one file holding every image of a CUB tree, decoded and resized (shorter side
// S, default 256), stored as raw RGB uint8 (or re-encoded JPEG), with labels, split, boxes and class
// names. Training mmaps it, so a rank touches only the pages of its own samples; this is what goes
// on a cluster's shared filesystem instead of 11,788 small files.
//
// Layout: "FINCHPK1" | image data, each starting 64-byte aligned | JSON index | u64 little-endian
// index length | "FINCHPK1". The index trails the data so that packing streams: images are written
// as they are ready, with bounded memory, whatever the dataset size.
// Index: {"version":1, "encoding":"raw"|"jpeg", "short_side":S, "classes":[...], "source":...,
//         "images":[{"id","path","label","train","h","w","orig_h","orig_w","offset","bytes","bbox"?}]}
// (offsets from the start of the file; boxes in original-image coordinates).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "finch/data/cub.h"
#include "finch/data/source.h"

namespace finch::data {

struct PackOptions {
  int64_t short_side = 256;   // 0: keep the original size
  std::string encoding = "raw";  // raw | jpeg
  int jpeg_quality = 95;
  int workers = 4;
};

// One image to pack: pixels plus what the index records.
struct PackItem {
  CubImage meta;
  at::Tensor pixels;  // RGB uint8 H x W x 3 at original size
};

// Packs a CUB tree (decoding with OpenCV). `progress(done, total)` is called now and then.
void pack_cub(const CubDataset& ds, const std::string& out, const PackOptions& o,
              const std::function<void(size_t, size_t)>& progress = {});

// Packs every sample of a source (ImageFolder, CSV manifest), its own validation split included.
void pack_source(const ImageSource& src, const std::string& root, const std::string& out, const PackOptions& o,
                 const std::function<void(size_t, size_t)>& progress = {});

// Packs images produced by `make(i)` (the synthetic generator uses this without any JPEG codec).
void pack_items(size_t count, const std::function<PackItem(size_t)>& make, const std::vector<std::string>& class_names,
                const std::string& source, const std::string& out, const PackOptions& o,
                const std::function<void(size_t, size_t)>& progress = {});

std::shared_ptr<ImageSource> open_packed(const std::string& path);

bool is_packed_file(const std::string& path);

}  // namespace finch::data
