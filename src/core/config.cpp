#include "finch/core/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "config_schema.h"
#include "finch/core/bounded_json.h"
#include "finch/core/error.h"

namespace finch {
namespace {

using config_detail::ChoiceSlot;
using config_detail::Field;
using nlohmann::json;

std::string fmt_num(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.15g}", v);
}

std::string range_text(const Field& f, bool integer) {
  const bool has_lo = std::isfinite(f.lo), has_hi = std::isfinite(f.hi);
  if (has_lo && has_hi && !f.lo_open) return fmt::format("in [{}, {}]", fmt_num(f.lo), fmt_num(f.hi));
  if (has_lo && has_hi) return fmt::format("in ({}, {}]", fmt_num(f.lo), fmt_num(f.hi));
  if (has_lo) return fmt::format("{} {}", f.lo_open ? ">" : ">=", fmt_num(f.lo));
  if (has_hi) return fmt::format("<= {}", fmt_num(f.hi));
  return integer ? "" : "finite";
}

std::string quoted_choices(const std::vector<std::string>& choices) {
  std::string out;
  for (size_t k = 0; k < choices.size(); ++k) out += (k ? ", \"" : "\"") + choices[k] + "\"";
  return out;
}

// What the field accepts, in words, for error messages and the schema table.
std::string expectation(const Field& f) {
  struct {
    const Field& f;
    std::string operator()(bool*) const { return "true or false"; }
    std::string operator()(int*) const { return "an integer " + range_text(f, true); }
    std::string operator()(double*) const { return "a number " + range_text(f, false); }
    std::string operator()(std::string*) const {
      return f.choices.empty() ? "a string" : "one of " + quoted_choices(f.choices);
    }
    std::string operator()(const ChoiceSlot&) const {
      if (std::find(f.choices.begin(), f.choices.end(), "true") == f.choices.end()) return "one of " + quoted_choices(f.choices);
      std::vector<std::string> names;  // a choice with true/false: those as JSON booleans
      for (const auto& c : f.choices)
        if (c != "true" && c != "false") names.push_back(c);
      return quoted_choices(names) + ", true or false";
    }
    std::string operator()(std::optional<double>*) const { return "null or a number " + range_text(f, false); }
    std::string operator()(std::vector<double>*) const {
      return fmt::format("a list of {} numbers {}", f.list_size, range_text(f, false));
    }
    std::string operator()(std::optional<std::vector<double>>*) const {
      return fmt::format("null or a list of {} numbers {}", f.list_size, range_text(f, false));
    }
  } visitor{f};
  return std::visit(visitor, f.slot);
}

bool in_range(const Field& f, double v) {
  if (!std::isfinite(v)) return false;
  if (f.lo_open ? v <= f.lo : v < f.lo) return false;
  return v <= f.hi;
}

bool is_integral(const json& v) {
  if (v.is_number_integer()) return true;
  return v.is_number_float() && std::floor(v.get<double>()) == v.get<double>();
}

// Checks `v` against the field and stores it; throws ConfigError naming `source` and the key.
void assign(const Field& f, const json& v, const std::string& source) {
  auto fail = [&](const std::string& expected) {
    throw ConfigError(fmt::format("{}: key '{}': expected {}, got {}", source, f.path, expected, briefly(v.dump())));
  };
  struct {
    const Field& f;
    const json& v;
    decltype(fail)& bad;
    void operator()(bool* p) const {
      if (!v.is_boolean()) bad(expectation(f));
      *p = v.get<bool>();
    }
    void operator()(int* p) const {
      if (!is_integral(v) || !in_range(f, v.get<double>())) bad(expectation(f));
      *p = static_cast<int>(v.get<double>());
    }
    void operator()(double* p) const {
      if (!v.is_number() || !in_range(f, v.get<double>())) bad(expectation(f));
      *p = v.get<double>();
    }
    void operator()(std::string* p) const {
      if (!v.is_string()) bad(expectation(f));
      const auto s = v.get<std::string>();
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) bad(expectation(f));
      *p = s;
    }
    void operator()(const ChoiceSlot& slot) const {
      // A choice named true/false (train.channels_last) takes the JSON booleans, as the bool it was.
      const bool boolean_choice = std::find(f.choices.begin(), f.choices.end(), "true") != f.choices.end();
      if (!v.is_string() && !(boolean_choice && v.is_boolean())) bad(expectation(f));
      const auto s = v.is_boolean() ? std::string(v.get<bool>() ? "true" : "false") : v.get<std::string>();
      if (std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) bad(expectation(f));
      slot.set(s);
    }
    void operator()(std::optional<double>* p) const {
      if (v.is_null()) {
        p->reset();
        return;
      }
      if (!v.is_number() || !in_range(f, v.get<double>())) bad(expectation(f));
      *p = v.get<double>();
    }
    void operator()(std::vector<double>* p) const {
      if (!v.is_array() || v.size() != f.list_size) bad(expectation(f));
      for (const auto& x : v)
        if (!x.is_number() || !in_range(f, x.get<double>())) bad(expectation(f));
      *p = v.get<std::vector<double>>();
    }
    void operator()(std::optional<std::vector<double>>* p) const {
      if (v.is_null()) {
        p->reset();
        return;
      }
      if (!v.is_array() || v.size() != f.list_size) bad(expectation(f));
      for (const auto& x : v)
        if (!x.is_number() || !in_range(f, x.get<double>())) bad(expectation(f));
      *p = v.get<std::vector<double>>();
    }
  } visitor{f, v, fail};
  std::visit(visitor, f.slot);
  if (f.check && !v.is_null()) {
    const std::string problem = f.check(v);
    if (!problem.empty()) fail(problem);
  }
}

json current_value(const Field& f) {
  return std::visit([](const auto& slot) -> json {
    using S = std::decay_t<decltype(slot)>;
    if constexpr (std::is_same_v<S, ChoiceSlot>) {
      const std::string name = slot.get();
      return name == "true" || name == "false" ? json(name == "true") : json(name);
    }
    else if constexpr (std::is_same_v<S, std::optional<double>*>) return *slot ? json(**slot) : json(nullptr);
    else if constexpr (std::is_same_v<S, std::optional<std::vector<double>>*>) return *slot ? json(**slot) : json(nullptr);
    else return json(*slot);
  }, f.slot);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string leaf(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// " (did you mean 'x'?)" for a near miss by spelling, or the same key name in another section.
std::string suggestion(const std::string& key, const std::vector<Field>& fields) {
  std::string best;
  size_t best_d = std::max<size_t>(2, key.size() / 4) + 1;
  for (const auto& f : fields) {
    const size_t d = edit_distance(key, f.path);
    if (d < best_d) best_d = d, best = f.path;
  }
  if (best.empty())
    for (const auto& f : fields)
      if (leaf(f.path) == leaf(key)) best = f.path;
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

void check_known_keys(const json& obj, const std::string& prefix, const std::vector<Field>& fields,
                      const std::set<std::string>& sections, const std::string& source) {
  for (const auto& [key, value] : obj.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    const bool is_field = std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return f.path == path; });
    if (is_field) continue;
    if (sections.count(path)) {
      if (!value.is_object())
        throw ConfigError(fmt::format("{}: key '{}': expected an object (a section), got {}", source, path, briefly(value.dump())));
      check_known_keys(value, path, fields, sections, source);
      continue;
    }
    throw ConfigError(fmt::format("{}: unknown key '{}'{}", source, path, suggestion(path, fields)));
  }
}

json::json_pointer pointer(const std::string& path) {
  std::string p = "/" + path;
  std::replace(p.begin(), p.end(), '.', '/');
  return json::json_pointer(p);
}

// The run directory is output_dir/name: the name must stay one folder inside output_dir ("..",
// "../x" or "/abs" once put config.json, checkpoints/ and train.log outside it).
void check_run_name(const std::string& name, const std::string& source) {
  auto bad = [&](const std::string& why) {
    throw ConfigError(fmt::format("{}: key 'name': {}; a run name is one folder name inside output_dir", source, why));
  };
  if (name.empty()) bad("empty");
  if (name == "." || name == "..") bad(fmt::format("'{}' is not a folder of its own", name));
  if (name.size() > 200) bad(fmt::format("{} characters (at most 200)", name.size()));
  for (unsigned char ch : name) {
    if (ch == '/' || ch == '\\') bad(fmt::format("'{}' holds a path separator", name));
    if (ch < 0x20 || ch == 0x7f) bad("it holds a control character");
  }
}

// Rules that involve more than one key.
void check_consistency(const Config& c, const std::string& source) {
  auto fail = [&](const std::string& msg) { throw ConfigError(source + ": " + msg); };
  if (c.data.resize < c.data.image_size)
    fail(fmt::format("key 'data.resize' ({}) must be >= 'data.image_size' ({}): the eval center crop is taken from the resized image",
                     c.data.resize, c.data.image_size));
  if (c.scheduler.per_step && (c.scheduler.name == SchedulerKind::kPlateau || c.scheduler.name == SchedulerKind::kNone))
    fail(fmt::format("key 'scheduler.per_step' is true but 'scheduler.name' is {}: per-step schedules are step, cosine and poly "
                     "(plateau follows a per-epoch metric)", choice_name(c.scheduler.name)));
  if (c.scheduler.name == SchedulerKind::kPoly && !c.scheduler.per_step)
    fail("key 'scheduler.name' is poly, which runs per optimizer step: set 'scheduler.per_step' to true");
  if (c.data.eval_resize > 0 && c.data.eval_resize < (c.data.eval_image_size > 0 ? c.data.eval_image_size : c.data.image_size))
    fail(fmt::format("key 'data.eval_resize' ({}) must be >= the eval crop ({}): the crop is taken from the resized image", c.data.eval_resize,
                     c.data.eval_image_size > 0 ? c.data.eval_image_size : c.data.image_size));
  if (c.data.auto_augment == AutoAugmentPolicy::kRandAugment && c.data.randaugment.magnitude >= c.data.randaugment.num_magnitude_bins)
    fail(fmt::format("key 'data.randaugment.magnitude' ({}) must be below 'data.randaugment.num_magnitude_bins' ({}): it is a bin",
                     c.data.randaugment.magnitude, c.data.randaugment.num_magnitude_bins));
  const bool mixing = c.data.mixup.mixup_alpha > 0 || c.data.mixup.cutmix_alpha > 0 || c.data.mixup.cutmix_minmax.has_value();
  if (mixing && c.train.batch_size % 2 != 0)
    fail(fmt::format("key 'train.batch_size' ({}) must be even with data.mixup on: each image is mixed with its partner N-1-i "
                     "(timm's Mixup asserts the same)", c.train.batch_size));
  const bool needs_val = c.early_stopping.enabled || (c.scheduler.name == SchedulerKind::kPlateau && c.scheduler.monitor != Metric::kTrainLoss);
  if (needs_val && c.data.val_fraction <= 0)
    fail(c.early_stopping.enabled
             ? "key 'early_stopping.enabled' is true but 'data.val_fraction' is 0: early stopping needs a validation split"
             : "key 'scheduler.monitor' watches a validation metric but 'data.val_fraction' is 0");
}

}  // namespace

void throw_unknown_choice(const std::string& what, std::string_view got, const std::vector<std::string>& names) {
  throw ConfigError(fmt::format("{}: expected one of {}, got \"{}\"", what, quoted_choices(names), got));
}

// Keys, types and ranges of one document, without the rules that involve several keys.
static Config fill_from_json(const json& doc, const std::string& source) {
  Config c;
  const auto fields = config_detail::schema(c);
  if (!doc.is_object()) throw ConfigError(source + ": the config must be a JSON object, got " + std::string(doc.type_name()));
  std::set<std::string> sections;
  for (const auto& f : fields)
    for (auto dot = f.path.find('.'); dot != std::string::npos; dot = f.path.find('.', dot + 1))
      sections.insert(f.path.substr(0, dot));
  check_known_keys(doc, "", fields, sections, source);
  for (const auto& f : fields) {
    const auto ptr = pointer(f.path);
    if (doc.contains(ptr)) assign(f, doc.at(ptr), source);
  }
  return c;
}

Config config_from_json(const json& doc, const std::string& source) {
  Config c = fill_from_json(doc, source);
  check_consistency(c, source);
  return c;
}

nlohmann::ordered_json config_to_json(const Config& config) {
  Config copy = config;  // schema() binds mutable pointers; read through a copy
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& f : config_detail::schema(copy)) {
    nlohmann::ordered_json* node = &out;
    std::string rest = f.path;
    for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
      node = &(*node)[rest.substr(0, dot)];
      rest = rest.substr(dot + 1);
    }
    (*node)[rest] = current_value(f);
  }
  return out;
}

void apply_override(json& doc, const std::string& assignment) {
  const std::string source = "--set '" + briefly(assignment) + "'";
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(source + ": expected KEY=VALUE, e.g. --set train.epochs=5");
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Config scratch;
  const auto fields = config_detail::schema(scratch);
  const auto it = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.path == key; });
  if (it == fields.end()) throw ConfigError(fmt::format("{}: unknown key '{}'{}", source, key, suggestion(key, fields)));
  // Strings are taken verbatim (so --set name=2024 stays a name); everything else is JSON.
  json value;
  if (std::holds_alternative<std::string*>(it->slot) || std::holds_alternative<ChoiceSlot>(it->slot)) {
    value = text;
  } else {
    value = parse_bounded_json(text);  // Note [Bounded JSON]
    if (value.is_discarded()) value = text;  // reported below as the wrong type
  }
  assign(*it, value, source);
  doc[pointer(key)] = value;
}

namespace {

json parse_config_file(const std::string& path) {
  // A FIFO or a device would block the read (or never end): configs are regular files.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw ConfigError("config file '" + path + "' is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::string problem;
  json doc = parse_bounded_json(text, &problem, /*comments=*/true);  // Note [Bounded JSON]
  if (!doc.is_discarded()) return doc;
  try {  // again, for the error's place (the document is not too deep, or it would have said so)
    if (problem.rfind("nested deeper", 0) != 0) doc = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // nlohmann reports a byte offset; people count lines and columns.
    size_t line = 1, col = 1;
    for (size_t k = 0; k + 1 < e.byte && k < text.size(); ++k) {
      if (text[k] == '\n') ++line, col = 1;
      else ++col;
    }
    std::string what = e.what();
    const auto colon = what.find(": ", what.find("parse error"));
    if (colon != std::string::npos) what = what.substr(colon + 2);
    throw ConfigError(fmt::format("{}:{}:{}: invalid JSON: {}", path, line, col, what));
  } catch (const json::exception& e) {  // a number out of range (1e400), ...
    throw ConfigError(fmt::format("{}: invalid JSON: {}", path, e.what()));
  }
  throw ConfigError(fmt::format("{}: invalid JSON: {}", path, problem));
}

// `over` on top of `under`: objects merge key by key, anything else replaces.
void merge_into(json& under, const json& over) {
  for (const auto& [key, value] : over.items()) {
    if (value.is_object() && under.contains(key) && under[key].is_object()) merge_into(under[key], value);
    else under[key] = value;
  }
}

// The document of `path` with its "base" chain resolved (each base relative to the file naming
// it). `chain` holds the files being resolved, for cycle errors. Each file's own keys are
// checked here, so that an error names the file that holds the bad key.
json resolve_bases(const std::string& path, std::vector<std::string>& chain) {
  std::error_code ec;
  const std::string canonical = std::filesystem::weakly_canonical(path, ec).string();
  if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
    std::string cycle;
    for (const auto& p : chain) cycle += p + " -> ";
    throw ConfigError(fmt::format("{}: \"base\" makes a cycle: {}{}", chain.back(), cycle, canonical));
  }
  json doc = parse_config_file(path);
  if (!doc.is_object() || !doc.contains("base")) {
    if (doc.is_object()) fill_from_json(doc, path);  // this file's keys, values and types
    return doc;
  }
  const json base = doc["base"];
  if (!base.is_string() || base.get<std::string>().empty())
    throw ConfigError(fmt::format("{}: key 'base': expected the path of another config file, got {}", path, briefly(base.dump())));
  doc.erase("base");
  fill_from_json(doc, path);
  chain.push_back(canonical);
  const auto base_path = std::filesystem::path(path).parent_path() / base.get<std::string>();
  std::error_code base_ec;  // a symlink loop is a bad config (exit 2), not a filesystem_error
  if (!std::filesystem::is_regular_file(base_path, base_ec))
    throw ConfigError(fmt::format("{}: key 'base': no config file '{}'", path, base_path.string()));
  json merged = resolve_bases(base_path.string(), chain);
  chain.pop_back();
  merge_into(merged, doc);
  return merged;
}

}  // namespace

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<std::string> chain;
  json doc = resolve_bases(path, chain);
  if (doc.is_object())
    for (const auto& o : overrides) apply_override(doc, o);
  Config c = config_from_json(doc, path);
  if (c.name.empty()) c.name = std::filesystem::path(path).stem().string();
  check_run_name(c.name, path);
  return c;
}

std::string config_schema_markdown() {
  Config c;
  std::string out = "| key | default | accepts | meaning |\n|---|---|---|---|\n";
  for (const auto& f : config_detail::schema(c)) {
    std::string accepts = expectation(f);
    if (f.path == "model.freeze") accepts = "none, head, last_blocks:K, each with optional +bn";
    if (f.path == "logging.trace_steps") accepts = "empty, or A:B (global steps, 1 <= A <= B)";
    out += fmt::format("| `{}` | `{}` | {} | {} |\n", f.path, f.def.dump(), accepts, f.doc);
  }
  return out;
}

}  // namespace finch
