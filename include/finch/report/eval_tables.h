// The tables `finch eval` writes beside eval.json: per_class.csv (images, hits and accuracy of each
// class) and confusion.csv (true class x predicted class). Class names are CSV-quoted where they
// need it (an ImageFolder class may be called "Gull, Herring").
#pragma once

#include <string>
#include <vector>

namespace finch::report {

// class,name,images,correct,accuracy; one row per class in label order (accuracy 0 for a class
// with no images).
std::string per_class_csv(const std::vector<std::string>& names, const std::vector<double>& count, const std::vector<double>& correct);

// A header row of the predicted classes' names, then one row per true class: its name and its
// counts. `counts` is classes x classes, row-major.
std::string confusion_csv(const std::vector<std::string>& names, const std::vector<double>& counts);

// One CSV field: as it is, or in double quotes (inner quotes doubled) when it holds a comma, a
// quote or a line break (RFC 4180).
std::string csv_field(const std::string& text);

}  // namespace finch::report
