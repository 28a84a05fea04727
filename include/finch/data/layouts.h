// Data sets in the layouts users already have, beside CUB's (data/cub.h) and finch's packed file:
//
// ImageFolder, as torchvision's datasets.ImageFolder reads it, one folder per split:
//   root/train/<class>/<image>     the training split (required); classes are its subfolders, sorted by name
//   root/val/<class>/<image>       optional: the validation split (else data.val_fraction carves one from train)
//   root/test/<class>/<image>      optional: the test split (else the run has none and evaluates none)
//
// CSV manifest: one image a line, `path,label[,split]`, an optional header line naming those
// columns; paths relative to the manifest's folder; labels all class names (classes sorted by
// name) or all indices 0..K-1; split one of train, val, test (no column: every image is train).
//
// Image files are recognised by extension, as torchvision's IMG_EXTENSIONS (.jpg .jpeg .png .ppm
// .bmp .pgm .tif .tiff .webp, any case); hidden files (.DS_Store) are skipped. A layout that
// cannot be read as meant is a ConfigError naming the path (and line): an empty class folder, a
// file that is not an image, a class in val/ or test/ that train/ lacks, a duplicate or missing
// manifest path, a label outside the classes. Nothing is decoded here: `finch dataset --deep`
// decodes every image.
#pragma once

#include <memory>
#include <string>

#include "finch/data/source.h"

namespace finch::data {

bool is_image_folder(const std::string& root);  // a folder with a train/ subfolder
std::shared_ptr<ImageSource> open_image_folder(const std::string& root);

bool is_csv_manifest(const std::string& path);  // a file named *.csv
std::shared_ptr<ImageSource> open_csv_manifest(const std::string& path);

// torchvision's IMG_EXTENSIONS, case-insensitive.
bool has_image_extension(const std::string& path);

}  // namespace finch::data
