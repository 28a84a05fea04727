// finch config: print the resolved config of a file (+ overrides), the defaults, or the schema.
#include <iostream>

#include "commands.h"
#include "finch/core/config.h"

namespace finch::cli {

Command add_config(CLI::App& parent) {
  auto* app = parent.add_subcommand("config", "Print a resolved config (defaults + file + --set), or the schema");
  struct Opts {
    std::string file;
    std::vector<std::string> sets;
    bool schema = false;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--config,-c", o->file, "JSON run config (omit for the defaults)");
  app->add_option("--set", o->sets, "Override a key: --set train.epochs=5 (repeatable)");
  app->add_flag("--schema", o->schema, "Print every key as a Markdown table (type, default, meaning)");
  return {app, [o]() {
            if (o->schema) {
              std::cout << config_schema_markdown();
              return 0;
            }
            nlohmann::json doc = nlohmann::json::object();
            for (const auto& s : o->sets) apply_override(doc, s);
            const Config c = o->file.empty() ? config_from_json(doc, "--set") : load_config(o->file, o->sets);
            std::cout << config_to_json(c).dump(2) << "\n";
            return 0;
          }};
}

}  // namespace finch::cli
