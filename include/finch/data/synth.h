// Synthetic CUB: a real CUB-200-2011 layout (all text files, class folders of JPEGs, boxes,
// an official-style ~50/50 split per class) with drawn "birds" whose classes differ by small
// details: body colour (5), head colour (5), wing pattern (4) and tail shape (2) make 200
// combinations, on cluttered backgrounds with random pose, size, position and lighting. A model
// can learn it but not trivially. It exists for tests and the quickstart and is never CUB: every
// tree carries a SYNTHETIC_NOT_CUB.txt marker and the class names say "synthetic".
#pragma once

#include <cstdint>
#include <string>

#include "finch/data/packed.h"

namespace finch::data {

struct SynthOptions {
  int classes = 200;       // 2 .. 400
  int per_class = 60;
  int size = 128;          // shorter side of each image
  uint64_t seed = 0;
  int workers = 4;
  double train_fraction = 0.5;  // CUB: 5,994 / 11,788
  // The class also sets the background's hue: learnable by a from-scratch network in a few CPU
  // epochs (smoke tests, the quickstart). Off: only the bird's small details differ.
  bool easy = false;
};

// Renders image `index` of class `label` (RGB uint8 H x W x 3) and the bird's box.
PackItem render_synthetic(const SynthOptions& o, int64_t index, int label);

// Writes a CUB-layout tree (needs a JPEG codec) ...
void write_synthetic_tree(const std::string& dir, const SynthOptions& o);
// ... or a packed file directly (no codec needed: for builds without OpenCV).
void write_synthetic_packed(const std::string& file, const SynthOptions& o, const PackOptions& pack);

bool is_synthetic(const std::string& root);

}  // namespace finch::data
