// finch sweep's plan: grid parsing, run names, the expansion (index -> values, the order Slurm's
// array indices follow), validation that names the run and the key, and the plan's round trip.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "finch/core/error.h"
#include "finch/core/sweep_plan.h"

namespace fs = std::filesystem;
using finch::ConfigError;

namespace {

// A folder holding a config (data.root: the folder itself, so that it exists).
struct Workdir {
  fs::path dir;
  explicit Workdir(const std::string& name) : dir(fs::temp_directory_path() / "finch_sweep_test" / name) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    write("b0.json", R"({"model": {"arch": "efficientnet_b0"}, "data": {"root": ")" + dir.string() + R"("}})");
  }
  void write(const std::string& file, const std::string& text) const { std::ofstream(dir / file) << text; }
  std::string path(const std::string& file) const { return (dir / file).string(); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(SweepPlan, GridValuesSplitAtTopLevelCommasOnly) {
  const auto a = finch::parse_grid_axis("data.scale=[0.25,1],[0.08,1]");
  EXPECT_EQ(a.key, "data.scale");
  EXPECT_EQ(a.values, (std::vector<std::string>{"[0.25,1]", "[0.08,1]"}));
  EXPECT_EQ(finch::parse_grid_axis("name=\"a,b\",c").values, (std::vector<std::string>{"\"a,b\"", "c"}));
  EXPECT_EQ(finch::parse_grid_axis("optimizer.lr=1e-3").values, (std::vector<std::string>{"1e-3"}));
  EXPECT_NE(error_of([] { finch::parse_grid_axis("optimizer.lr"); }).find("expected KEY=V1,V2"), std::string::npos);
  EXPECT_NE(error_of([] { finch::parse_grid_axis("data.scale=[0.25,1"); }).find("unbalanced bracket"), std::string::npos);
  EXPECT_NE(error_of([] { finch::parse_grid_axis("optimizer.lr=1,1"); }).find("'1' is given twice"), std::string::npos);
}

TEST(SweepPlan, RunNamesSayTheValues) {
  const std::vector<std::string> keys{"optimizer.lr", "model.dropout"};
  EXPECT_EQ(finch::sweep_run_name("b0", {{"optimizer.lr", "3e-4"}, {"model.dropout", "0.5"}}, keys), "b0_lr3e-4_dropout0.5");
  // Two keys ending alike keep one more part each; odd characters become '-'.
  const std::vector<std::string> alike{"model.dropout", "model.head.dropout"};
  EXPECT_EQ(finch::sweep_run_name("b0", {{"model.dropout", "0.2"}, {"model.head.dropout", "0.1"}}, alike),
            "b0_model.dropout0.2_head.dropout0.1");
  EXPECT_EQ(finch::sweep_run_name("b0", {{"model.freeze", "last_blocks:1+bn"}}, {"model.freeze"}), "b0_freezelast_blocks-1+bn");
  EXPECT_EQ(finch::sweep_run_name("b0", {{"model.pretrained", ""}}, {"model.pretrained"}), "b0_pretrainednone");
  EXPECT_EQ(finch::sweep_run_name("b0", {{"data.scale", "[0.25,1]"}}, {"data.scale"}), "b0_scale0.25-1");
}

TEST(SweepPlan, ConfigsTimesGridInArrayIndexOrder) {
  Workdir w("expand");
  w.write("b2.json", R"({"base": "b0.json", "model": {"arch": "efficientnet_b2"}})");
  finch::SweepRequest req{{w.path("b0.json"), w.path("b2.json")},
                          {finch::parse_grid_axis("optimizer.lr=1e-3,3e-4"), finch::parse_grid_axis("model.dropout=0.2,0.5")},
                          {"train.epochs=3"},
                          w.dir.string()};
  const auto plan = finch::make_sweep_plan(req, "lr_dropout");
  ASSERT_EQ(plan.runs.size(), 8u);
  const std::vector<std::string> names{"b0_lr1e-3_dropout0.2", "b0_lr1e-3_dropout0.5", "b0_lr3e-4_dropout0.2", "b0_lr3e-4_dropout0.5",
                                       "b2_lr1e-3_dropout0.2", "b2_lr1e-3_dropout0.5", "b2_lr3e-4_dropout0.2", "b2_lr3e-4_dropout0.5"};
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const auto& r = plan.runs[i];
    EXPECT_EQ(r.index, static_cast<int>(i));
    EXPECT_EQ(r.name, names[i]);
    // What run i trains is what its name says: the resolved config holds its own values.
    EXPECT_DOUBLE_EQ(r.resolved["optimizer"]["lr"].get<double>(), i % 4 < 2 ? 1e-3 : 3e-4) << r.name;
    EXPECT_DOUBLE_EQ(r.resolved["model"]["dropout"].get<double>(), i % 2 == 0 ? 0.2 : 0.5) << r.name;
    EXPECT_EQ(r.resolved["model"]["arch"], i < 4 ? "efficientnet_b0" : "efficientnet_b2") << r.name;
    EXPECT_EQ(r.resolved["train"]["epochs"], 3);
    EXPECT_EQ(r.resolved["name"], r.name);
    EXPECT_EQ(r.run_dir, "runs/" + r.name);
    EXPECT_EQ(r.sets.back(), "name=" + r.name);
  }
  EXPECT_EQ(plan.compare_dir, "runs/sweep-lr_dropout");
}

TEST(SweepPlan, AnInvalidValueStopsThePlanNamingRunAndKey) {
  Workdir w("invalid");
  finch::SweepRequest req{{w.path("b0.json")},
                          {finch::parse_grid_axis("optimizer.lr=1e-3,-1"), finch::parse_grid_axis("model.dropout=0.2,0.5")},
                          {},
                          w.dir.string()};
  const auto e = error_of([&] { finch::make_sweep_plan(req, "p"); });
  EXPECT_NE(e.find("run 2 'b0_lr-1_dropout0.2'"), std::string::npos) << e;
  EXPECT_NE(e.find("key 'optimizer.lr'"), std::string::npos) << e;
  req.grid = {finch::parse_grid_axis("optimizer.lrr=1e-3")};
  EXPECT_NE(error_of([&] { finch::make_sweep_plan(req, "p"); }).find("unknown key 'optimizer.lrr'"), std::string::npos);
  req.grid = {finch::parse_grid_axis("data.root=" + w.dir.string() + "," + w.path("missing"))};
  const auto missing = error_of([&] { finch::make_sweep_plan(req, "p"); });
  EXPECT_NE(missing.find("key 'data.root'"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;
}

TEST(SweepPlan, TwoRunsWithOneNameAreRefused) {
  Workdir w("clash");
  w.write("copy.json", R"({"base": "b0.json", "name": "b0"})");
  finch::SweepRequest req{{w.path("b0.json"), w.path("copy.json")}, {}, {}, w.dir.string()};
  const auto e = error_of([&] { finch::make_sweep_plan(req, "p"); });
  EXPECT_NE(e.find("two runs would be named 'b0'"), std::string::npos) << e;
}

TEST(SweepPlan, RoundTripsThroughItsFile) {
  Workdir w("roundtrip");
  finch::SweepRequest req{{w.path("b0.json")}, {finch::parse_grid_axis("optimizer.lr=1e-3,3e-4")}, {"train.epochs=2"}, w.dir.string()};
  const auto plan = finch::make_sweep_plan(req, "p");
  w.write("plan.json", finch::sweep_plan_to_json(plan).dump(2));
  const auto back = finch::read_sweep_plan(w.path("plan.json"));
  ASSERT_EQ(back.runs.size(), 2u);
  EXPECT_EQ(back.workdir, plan.workdir);
  EXPECT_EQ(back.runs[1].name, plan.runs[1].name);
  EXPECT_EQ(back.runs[1].sets, plan.runs[1].sets);
  EXPECT_EQ(back.runs[1].values, plan.runs[1].values);
  EXPECT_EQ(nlohmann::json::parse(back.runs[1].resolved.dump()), nlohmann::json::parse(plan.runs[1].resolved.dump()));
  w.write("config.json", R"({"model": {}})");
  EXPECT_NE(error_of([&] { finch::read_sweep_plan(w.path("config.json")); }).find("not a finch sweep plan"), std::string::npos);
  w.write("renumbered.json", [&] {
    auto doc = finch::sweep_plan_to_json(plan);
    doc["runs"][1]["index"] = 5;
    return doc.dump();
  }());
  EXPECT_NE(error_of([&] { finch::read_sweep_plan(w.path("renumbered.json")); }).find("run 1 has index 5"), std::string::npos);
}
