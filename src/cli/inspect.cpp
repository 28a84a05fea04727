// finch inspect: parameter counts of an architecture + head + freeze policy, and the task's
// 10M-parameter budget check; with --checkpoint, what a checkpoint holds (inspect_checkpoint.cpp).
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "finch/core/error.h"
#include "finch/model/build.h"
#include "finch/model/efficientnet.h"
#include "finch/model/freeze.h"
#include "finch/model/param_count.h"

namespace finch::cli {

Command add_inspect(CLI::App& parent) {
  auto* app = parent.add_subcommand("inspect", "Parameter counts (total, trainable, per stage) of an architecture and freeze policy; "
                                               "or what a checkpoint holds (--checkpoint)");
  struct Opts {
    std::string arch = "efficientnet_b0", freeze = "none", activation = "relu";
    std::string checkpoint, config;
    int64_t classes = 200;
    int hidden = 0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--arch", o->arch, "efficientnet_b0 ... efficientnet_b7, efficientnet_lite0 ... efficientnet_lite4")->capture_default_str();
  app->add_option("--classes", o->classes, "Classes of the head")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_option("--freeze", o->freeze, "none | head | last_blocks:K, optionally +bn")->capture_default_str();
  app->add_option("--head-hidden", o->hidden, "Hidden units of an extra head layer (model.head.hidden)")->check(CLI::Range(0, 1000000))->capture_default_str();
  app->add_flag("--json", o->json, "Machine-readable output");
  app->add_option("--checkpoint", o->checkpoint,
                  "A checkpoint directory, or a run directory (its latest intact checkpoint): where it stands, its files' checksums "
                  "verified (exit 1 when one does not match), the run's metrics up to it");
  app->add_option("--config", o->config, "With --checkpoint: the config keys that differ between the checkpoint's run and this file");
  return {app, [o]() {
            if (!o->checkpoint.empty()) return inspect_checkpoint(o->checkpoint, o->config, o->json);
            if (!o->config.empty()) throw ConfigError("inspect: --config goes with --checkpoint");
            ModelConfig mc;
            mc.arch = o->arch;
            mc.classes = static_cast<int>(o->classes);
            mc.head.hidden = o->hidden;
            model::EfficientNet net(model::options_from_config(mc));
            const auto policy = model::FreezePolicy::parse(o->freeze);
            model::apply_freeze(*net, policy, false);
            const auto c = model::count_parameters(*net);
            const bool over = c.total > model::kParamBudget;
            if (o->json) {
              nlohmann::ordered_json j = {{"arch", net->options().arch}, {"classes", o->classes}, {"freeze", policy.str()},
                                          {"total", c.total}, {"trainable", c.trainable}, {"budget", model::kParamBudget},
                                          {"within_budget", !over}};
              for (const auto& p : c.parts)
                j["parts"].push_back({{"part", p.part}, {"module", p.module}, {"total", p.total}, {"trainable", p.trainable}});
              std::cout << j.dump(2) << "\n";
            } else {
              std::cout << fmt::format("{} ({} classes, freeze {})\n", net->options().arch, o->classes, policy.str());
              std::cout << fmt::format("  {:<12} {:<12} {:>12} {:>12}\n", "part", "module", "total", "trainable");
              for (const auto& p : c.parts)
                std::cout << fmt::format("  {:<12} {:<12} {:>12L} {:>12L}\n", p.part, p.module, p.total, p.trainable);
              std::cout << fmt::format("  {:<25} {:>12L} {:>12L}\n", "all", c.total, c.trainable);
            }
            if (over)
              std::cerr << fmt::format("finch: warning: {} has {} parameters, over the task's budget of {}\n",
                                       net->options().arch, c.total, model::kParamBudget);
            return 0;
          }};
}

}  // namespace finch::cli
