#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "finch/core/config.h"
#include "finch/core/error.h"

using finch::Config;
using finch::ConfigError;
using nlohmann::json;

namespace {

// Expects a ConfigError whose message contains every fragment.
template <class F>
void expect_config_error(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), 2);
    for (const auto& frag : fragments) EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
  }
}

Config parse(const std::string& text) { return finch::config_from_json(json::parse(text), "test.json"); }

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST(Config, DefaultsAreTheDocumentedOnes) {
  const Config c = parse("{}");
  EXPECT_EQ(c.model.arch, "efficientnet_b0");
  EXPECT_EQ(c.model.classes, 0);  // the data set's count, resolved before training
  EXPECT_FALSE(c.model.dropout.has_value());
  EXPECT_EQ(c.model.padding, finch::ModelPadding::kAuto);
  EXPECT_FALSE(c.data.mean.has_value());
  EXPECT_FALSE(c.data.std.has_value());
  EXPECT_EQ(c.optimizer.name, finch::OptimizerKind::kAdam);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1e-3);
  EXPECT_EQ(c.early_stopping.patience, 3);
  EXPECT_DOUBLE_EQ(c.dist.bucket_mb, 25.0);
  EXPECT_EQ(c.data.scale, (std::vector<double>{0.08, 1.0}));
}

TEST(Config, ReadsEveryKind) {
  const Config c = parse(R"({"model": {"arch": "efficientnet_b2", "dropout": 0.5, "freeze": "last_blocks:1+bn",
                               "head": {"hidden": 512, "activation": "leaky_relu"}},
                             "train": {"amp": "bf16", "channels_last": true, "epochs": 1e2},
                             "data": {"scale": [0.5, 1]}})");
  EXPECT_EQ(c.model.arch, "efficientnet_b2");
  EXPECT_DOUBLE_EQ(*c.model.dropout, 0.5);
  EXPECT_EQ(c.model.freeze, "last_blocks:1+bn");
  EXPECT_EQ(c.model.head.hidden, 512);
  EXPECT_EQ(c.model.head.activation, finch::Activation::kLeakyReLU);
  EXPECT_EQ(c.train.amp, finch::Amp::kBF16);
  EXPECT_EQ(c.train.channels_last, finch::ChannelsLast::kTrue);  // the JSON boolean, as the key once was
  EXPECT_EQ(c.train.epochs, 100);  // 1e2 is an integral number
  EXPECT_EQ(c.data.scale, (std::vector<double>{0.5, 1.0}));
}

TEST(Config, ResolvedJsonRoundTrips) {
  Config c = parse(R"({"model": {"dropout": 0.3}, "optimizer": {"lr": 3e-4}, "name": "x"})");
  const auto j = finch::config_to_json(c);
  EXPECT_EQ(j["model"]["dropout"], 0.3);
  EXPECT_TRUE(j["train"].contains("seed"));
  const Config back = finch::config_from_json(json::parse(j.dump()), "resolved");
  EXPECT_EQ(finch::config_to_json(back).dump(), j.dump());
  // Unset dropout stays null (the variant default), and survives the round trip.
  const auto d = finch::config_to_json(parse("{}"));
  EXPECT_TRUE(d["model"]["dropout"].is_null());
  EXPECT_FALSE(finch::config_from_json(json::parse(d.dump()), "r").model.dropout.has_value());
}

TEST(ConfigErrors, NotAnObject) { expect_config_error([] { parse("[1, 2]"); }, {"test.json", "must be a JSON object"}); }

TEST(ConfigErrors, UnknownKeyWithSpellingSuggestion) {
  expect_config_error([] { parse(R"({"train": {"epoch": 3}})"); },
                      {"test.json", "unknown key 'train.epoch'", "did you mean 'train.epochs'"});
}

TEST(ConfigErrors, UnknownKeyInWrongSectionSuggestsTheRightOne) {
  expect_config_error([] { parse(R"({"train": {"lr": 0.1}})"); }, {"unknown key 'train.lr'", "did you mean 'optimizer.lr'"});
}

TEST(ConfigErrors, UnknownSection) {
  expect_config_error([] { parse(R"({"trainer": {}})"); }, {"unknown key 'trainer'"});
}

TEST(ConfigErrors, SectionMustBeObject) {
  expect_config_error([] { parse(R"({"train": 5})"); }, {"key 'train'", "expected an object"});
}

TEST(ConfigErrors, WrongTypes) {
  expect_config_error([] { parse(R"({"train": {"epochs": "ten"}})"); }, {"key 'train.epochs'", "expected an integer", "\"ten\""});
  expect_config_error([] { parse(R"({"train": {"epochs": 2.5}})"); }, {"key 'train.epochs'", "expected an integer", "2.5"});
  expect_config_error([] { parse(R"({"train": {"channels_last": 1}})"); }, {"key 'train.channels_last'", "\"auto\", true or false"});
  expect_config_error([] { parse(R"({"optimizer": {"lr": "1e-3"}})"); }, {"key 'optimizer.lr'", "a number"});
  expect_config_error([] { parse(R"({"data": {"root": 3}})"); }, {"key 'data.root'", "a string"});
  expect_config_error([] { parse(R"({"model": {"dropout": "x"}})"); }, {"key 'model.dropout'", "null or a number"});
  expect_config_error([] { parse(R"({"train": {"epochs": null}})"); }, {"key 'train.epochs'", "null"});
}

TEST(ConfigErrors, OutOfRange) {
  expect_config_error([] { parse(R"({"train": {"batch_size": 0}})"); }, {"key 'train.batch_size'", "in [1, 65536]", "got 0"});
  expect_config_error([] { parse(R"({"optimizer": {"lr": 0}})"); }, {"key 'optimizer.lr'", "in (0, 10]"});
  expect_config_error([] { parse(R"({"optimizer": {"lr": -1}})"); }, {"key 'optimizer.lr'"});
  expect_config_error([] { parse(R"({"data": {"val_fraction": 0.9}})"); }, {"key 'data.val_fraction'", "in [0, 0.5]"});
  expect_config_error([] { parse(R"({"model": {"dropout": 1.0}})"); }, {"key 'model.dropout'"});
  expect_config_error([] { parse(R"({"train": {"clip_grad_norm": -1}})"); }, {"key 'train.clip_grad_norm'", ">= 0"});
}

TEST(ConfigErrors, NotAChoice) {
  expect_config_error([] { parse(R"({"model": {"arch": "resnet50"}})"); },
                      {"key 'model.arch'", "one of \"efficientnet_b0\"", "\"resnet50\""});
  expect_config_error([] { parse(R"({"train": {"amp": "fp8"}})"); }, {"key 'train.amp'", "\"bf16\""});
}

TEST(ConfigErrors, Lists) {
  expect_config_error([] { parse(R"({"data": {"scale": [0.5]}})"); }, {"key 'data.scale'", "a list of 2 numbers"});
  expect_config_error([] { parse(R"({"data": {"scale": 0.5}})"); }, {"key 'data.scale'", "a list of 2 numbers"});
  expect_config_error([] { parse(R"({"data": {"scale": [0.5, 2]}})"); }, {"key 'data.scale'"});
  expect_config_error([] { parse(R"({"data": {"scale": [0.9, 0.5]}})"); }, {"key 'data.scale'", "low <= high"});
}

TEST(ConfigErrors, FreezePolicy) {
  for (const char* ok : {"none", "head", "last_blocks:1", "last_blocks:12+bn", "head+bn"})
    EXPECT_NO_THROW(parse(std::string(R"({"model": {"freeze": ")") + ok + "\"}}")) << ok;
  for (const char* bad : {"all", "last_blocks", "last_blocks:0", "last_blocks:-1", "none+", "bn"})
    expect_config_error([&] { parse(std::string(R"({"model": {"freeze": ")") + bad + "\"}}"); },
                        {"key 'model.freeze'", "last_blocks:K"});
}

TEST(ConfigErrors, CrossKeyRules) {
  expect_config_error([] { parse(R"({"data": {"image_size": 300, "resize": 256}})"); }, {"'data.resize' (256)", "'data.image_size' (300)"});
  expect_config_error([] { parse(R"({"data": {"val_fraction": 0}})"); }, {"early_stopping.enabled", "val_fraction"});
  expect_config_error([] { parse(R"({"data": {"val_fraction": 0}, "early_stopping": {"enabled": false}, "scheduler": {"name": "plateau"}})"); },
                      {"scheduler.monitor"});
  EXPECT_NO_THROW(parse(R"({"data": {"val_fraction": 0}, "early_stopping": {"enabled": false}})"));
  expect_config_error([] { parse(R"({"data": {"eval_image_size": 300, "eval_resize": 256}})"); }, {"'data.eval_resize' (256)", "eval crop (300)"});
  expect_config_error([] { parse(R"({"scheduler": {"name": "plateau", "per_step": true}})"); }, {"scheduler.per_step", "plateau"});
  expect_config_error([] { parse(R"({"scheduler": {"name": "poly"}})"); }, {"poly", "scheduler.per_step"});
  EXPECT_NO_THROW(parse(R"({"data": {"eval_image_size": 300}, "eval": {"tta": "hflip"}, "scheduler": {"name": "poly", "per_step": true}})"));
  expect_config_error([] { parse(R"({"data": {"mixup": {"cutmix_alpha": 1.0}}, "train": {"batch_size": 7}})"); },
                      {"'train.batch_size' (7)", "even", "data.mixup"});
  expect_config_error([] { parse(R"({"data": {"mixup": {"cutmix_minmax": [0.8, 0.2]}}})"); }, {"data.mixup.cutmix_minmax", "ordered pair"});
  EXPECT_NO_THROW(parse(R"({"data": {"mixup": {"mixup_alpha": 0.8, "cutmix_minmax": [0.2, 0.8], "mode": "pair"}}, "train": {"batch_size": 8}})"));
  EXPECT_NO_THROW(parse(R"({"train": {"batch_size": 7}})"));  // odd is fine without mixing
  expect_config_error([] { parse(R"({"data": {"auto_augment": "randaugment", "randaugment": {"magnitude": 31}}})"); },
                      {"'data.randaugment.magnitude' (31)", "num_magnitude_bins' (31)"});
  expect_config_error([] { parse(R"({"data": {"auto_augment": "augmix"}})"); }, {"data.auto_augment", "trivialaugment_wide"});
}

TEST(ConfigOverrides, TypedBySchema) {
  json doc = json::object();
  finch::apply_override(doc, "train.epochs=5");
  finch::apply_override(doc, "name=2024");  // a string key keeps the text verbatim
  finch::apply_override(doc, "data.scale=[0.3,1]");
  finch::apply_override(doc, "model.dropout=null");
  const Config c = finch::config_from_json(doc, "overrides");
  EXPECT_EQ(c.train.epochs, 5);
  EXPECT_EQ(c.name, "2024");
  EXPECT_EQ(c.data.scale, (std::vector<double>{0.3, 1.0}));
}

TEST(ConfigOverrides, Errors) {
  json doc = json::object();
  expect_config_error([&] { finch::apply_override(doc, "train.epochs"); }, {"--set 'train.epochs'", "KEY=VALUE"});
  expect_config_error([&] { finch::apply_override(doc, "=5"); }, {"KEY=VALUE"});
  expect_config_error([&] { finch::apply_override(doc, "train.epoch=5"); }, {"unknown key 'train.epoch'", "train.epochs"});
  expect_config_error([&] { finch::apply_override(doc, "train.epochs=abc"); }, {"--set 'train.epochs=abc'", "expected an integer"});
  expect_config_error([&] { finch::apply_override(doc, "train.epochs=0"); }, {"key 'train.epochs'"});
  expect_config_error([&] { finch::apply_override(doc, "model.freeze=everything"); }, {"key 'model.freeze'"});
}

TEST(ConfigFile, OverridesWinAndNameDefaultsToStem) {
  const auto path = write_temp("finch_cfg_stem.json", R"({"train": {"epochs": 9}, // a comment
                                                          "optimizer": {"lr": 0.01}})");
  const Config c = finch::load_config(path, {"train.epochs=4"});
  EXPECT_EQ(c.train.epochs, 4);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.01);
  EXPECT_EQ(c.name, "finch_cfg_stem");
}

TEST(ConfigFile, MissingFile) {
  expect_config_error([] { finch::load_config("/nonexistent/x.json"); }, {"cannot read config file '/nonexistent/x.json'"});
}

TEST(ConfigFile, SyntaxErrorNamesLineAndColumn) {
  const auto path = write_temp("finch_cfg_bad.json", "{\n  \"train\": {\n    \"epochs\": 2,,\n  }\n}\n");
  expect_config_error([&] { finch::load_config(path); }, {"finch_cfg_bad.json:3:", "invalid JSON"});
}

TEST(ConfigSchema, DocumentsEveryKey) {
  const std::string md = finch::config_schema_markdown();
  const auto j = finch::config_to_json(Config{});
  size_t leaves = 0;
  std::function<void(const nlohmann::ordered_json&, const std::string&)> walk = [&](const auto& node, const std::string& prefix) {
    for (const auto& [k, v] : node.items()) {
      const std::string path = prefix.empty() ? k : prefix + "." + k;
      if (v.is_object()) {
        walk(v, path);
      } else {
        ++leaves;
        EXPECT_NE(md.find("| `" + path + "` |"), std::string::npos) << path;
      }
    }
  };
  walk(j, "");
  EXPECT_GT(leaves, 60u);
}

// "base": a file holds only what it changes; bases nest and resolve relative to the file naming
// them; a cycle, a missing base and a bad key in a base are errors naming the file.
TEST(ConfigBase, ChildOverridesNestedBases) {
  const auto dir = std::filesystem::temp_directory_path() / "finch_cfg_base";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "sub");
  write_temp("finch_cfg_base/root.json", R"({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.8}, "train": {"epochs": 7}})");
  write_temp("finch_cfg_base/sub/mid.json", R"(// a comment
{"base": "../root.json", "optimizer": {"lr": 0.05}, "model": {"head": {"activation": "silu", "hidden": 8}}})");
  const auto leaf = write_temp("finch_cfg_base/sub/leaf.json", R"({"base": "mid.json", "model": {"head": {"hidden": 16}}})");
  const Config c = finch::load_config(leaf, {"train.epochs=9"});
  EXPECT_EQ(c.optimizer.name, finch::OptimizerKind::kSgd);    // from root
  EXPECT_DOUBLE_EQ(c.optimizer.momentum, 0.8);                 // from root, beside a key mid changes
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.05);                      // mid over root
  EXPECT_EQ(c.model.head.activation, finch::Activation::kSiLU);  // mid, beside a key leaf changes
  EXPECT_EQ(c.model.head.hidden, 16);                          // leaf over mid
  EXPECT_EQ(c.train.epochs, 9);                                // --set over everything
  EXPECT_EQ(c.name, "leaf");                                   // the file given names the run
  EXPECT_FALSE(finch::config_to_json(c).contains("base"));     // the resolved config has no base
}

TEST(ConfigBase, CycleMissingAndBadKeysNameTheFile) {
  const auto dir = std::filesystem::temp_directory_path() / "finch_cfg_cycle";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto a = write_temp("finch_cfg_cycle/a.json", R"({"base": "b.json"})");
  write_temp("finch_cfg_cycle/b.json", R"({"base": "a.json"})");
  expect_config_error([&] { finch::load_config(a); }, {"b.json: \"base\" makes a cycle:", "a.json -> ", "b.json -> "});
  const auto lost = write_temp("finch_cfg_cycle/lost.json", R"({"base": "gone.json"})");
  expect_config_error([&] { finch::load_config(lost); }, {"lost.json: key 'base': no config file", "gone.json"});
  write_temp("finch_cfg_cycle/badbase.json", R"({"train": {"epoch": 3}})");
  const auto child = write_temp("finch_cfg_cycle/child.json", R"({"base": "badbase.json"})");
  expect_config_error([&] { finch::load_config(child); }, {"badbase.json: unknown key 'train.epoch'"});
  const auto notstring = write_temp("finch_cfg_cycle/notstring.json", R"({"base": 3})");
  expect_config_error([&] { finch::load_config(notstring); }, {"notstring.json: key 'base': expected the path"});
}

TEST(ConfigChoices, NamesRoundTripAndUnknownNamesAreErrors) {
  for (const auto& [value, name] : finch::ChoiceNames<finch::Amp>::kAll) {
    EXPECT_EQ(finch::choice_name(value), name);
    EXPECT_EQ(finch::choice_from_name<finch::Amp>(name), value);
  }
  EXPECT_FALSE(finch::choice_from_name<finch::Amp>("fp8").has_value());
  expect_config_error([] { finch::parse_choice<finch::Backend>("gloo", "--backend"); }, {"--backend: expected one of \"auto\", \"nccl\", \"mpi\", got \"gloo\""});
  // The resolved config writes names, not numbers.
  const auto j = finch::config_to_json(parse(R"({"train": {"amp": "fp16"}, "scheduler": {"name": "plateau"}})"));
  EXPECT_EQ(j["train"]["amp"], "fp16");
  EXPECT_EQ(j["scheduler"]["name"], "plateau");
  expect_config_error([] { parse(R"({"early_stopping": {"monitor": "train_loss"}})"); }, {"early_stopping.monitor", "\"val_acc\", \"val_loss\""});
}

TEST(Config, WeightKeysNullOrGiven) {
  const Config c = parse(R"({"model": {"arch": "efficientnet_lite0", "padding": "tf_same", "bn_eps": 0.001},
                             "data": {"mean": [0.5, 0.5, 0.5], "std": null, "format": "imagefolder"}})");
  EXPECT_EQ(c.model.padding, finch::ModelPadding::kTfSame);
  EXPECT_EQ(c.model.bn_eps, 0.001);
  EXPECT_EQ(c.data.mean, (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_FALSE(c.data.std.has_value());
  EXPECT_EQ(c.data.format, finch::DataFormat::kImageFolder);
  const auto j = finch::config_to_json(c);
  EXPECT_TRUE(j["data"]["std"].is_null());
  EXPECT_EQ(j["data"]["mean"].get<std::vector<double>>(), (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_EQ(parse(j.dump()).data.mean, c.data.mean);  // config.json reads back
  expect_config_error([] { parse(R"({"data": {"mean": [0.5, 0.5]}})"); }, {"key 'data.mean'", "null or a list of 3 numbers"});
  expect_config_error([] { parse(R"({"data": {"std": [0.5, 0, 0.5]}})"); }, {"key 'data.std'"});
  expect_config_error([] { parse(R"({"model": {"classes": 1}})"); }, {"key 'model.classes'", "0 (the data set's) or at least 2"});
  expect_config_error([] { parse(R"({"model": {"padding": "same"}})"); }, {"key 'model.padding'", "\"tf_same\""});
  expect_config_error([] { parse(R"({"model": {"arch": "efficientnet_lite5"}})"); }, {"key 'model.arch'", "efficientnet_lite4"});
}
