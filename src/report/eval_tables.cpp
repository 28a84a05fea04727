#include "finch/report/eval_tables.h"

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch::report {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

std::string per_class_csv(const std::vector<std::string>& names, const std::vector<double>& count, const std::vector<double>& correct) {
  if (count.size() != names.size() || correct.size() != names.size())
    throw RuntimeError(fmt::format("per_class.csv: {} class names, {} counts, {} hit counts", names.size(), count.size(), correct.size()));
  std::string csv = "class,name,images,correct,accuracy\n";
  for (size_t c = 0; c < names.size(); ++c)
    csv += fmt::format("{},{},{:.0f},{:.0f},{:.4f}\n", c, csv_field(names[c]), count[c], correct[c], count[c] > 0 ? correct[c] / count[c] : 0.0);
  return csv;
}

std::string confusion_csv(const std::vector<std::string>& names, const std::vector<double>& counts) {
  const size_t n = names.size();
  if (counts.size() != n * n) throw RuntimeError(fmt::format("confusion.csv: {} class names but {} counts (not {} x {})", n, counts.size(), n, n));
  std::string csv = "true\\predicted";
  for (const auto& name : names) csv += "," + csv_field(name);
  csv += "\n";
  for (size_t t = 0; t < n; ++t) {
    csv += csv_field(names[t]);
    for (size_t p = 0; p < n; ++p) csv += fmt::format(",{:.0f}", counts[t * n + p]);
    csv += "\n";
  }
  return csv;
}

}  // namespace finch::report
