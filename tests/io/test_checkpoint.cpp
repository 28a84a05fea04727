// Checkpoint directories: the latest intact one is found past each kind of damage (and the note
// says why a newer one was passed over); pruning keeps the newest periodic ones and best.
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/io/checkpoint.h"
#include "finch/io/safetensors.h"

namespace fs = std::filesystem;
using namespace finch::io;

namespace {

fs::path fresh_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("finch_ckpt_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

CheckpointData sample(int64_t step) {
  CheckpointData d;
  d.model = {{"w", torch::full({4, 3}, static_cast<float>(step))}, {"b", torch::arange(3).to(torch::kFloat)}};
  d.optimizer = {{"g0.p0.exp_avg", torch::ones({4, 3})}};
  d.state = {{"global_step", step}};
  return d;
}

// Two periodic checkpoints (steps 10 and 20), `latest` naming the newer.
fs::path two_checkpoints(const std::string& name) {
  const auto dir = fresh_dir(name);
  for (int64_t step : {10, 20}) {
    write_checkpoint(dir.string(), periodic_name(step), sample(step));
    set_latest(dir.string(), periodic_name(step));
  }
  return dir;
}

void truncate_file(const fs::path& p) { fs::resize_file(p, fs::file_size(p) / 2); }

void flip_a_byte(const fs::path& p) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-1, std::ios::end);
  char c = 0;
  f.get(c);
  f.seekp(-1, std::ios::end);
  f.put(static_cast<char>(c ^ 0x5a));
}

}  // namespace

TEST(Checkpoint, RoundTripsTensorsAndState) {
  const auto dir = two_checkpoints("roundtrip");
  const auto d = read_checkpoint((dir / periodic_name(20)).string());
  EXPECT_EQ(d.state["global_step"], 20);
  ASSERT_EQ(d.model.size(), 2u);
  EXPECT_TRUE(torch::equal(d.model[0].second, torch::full({4, 3}, 20.0f)));
  EXPECT_EQ(find_latest_checkpoint(dir.string()), (dir / periodic_name(20)).string());
}

TEST(Checkpoint, LatestFallsBackPastEachKindOfDamage) {
  const std::vector<std::pair<std::string, std::function<void(const fs::path&)>>> damages = {
      {"truncated", [](const fs::path& c) { truncate_file(c / "model.safetensors"); }},
      {"flipped", [](const fs::path& c) { flip_a_byte(c / "optimizer.safetensors"); }},
      {"missing", [](const fs::path& c) { fs::remove(c / "optimizer.safetensors"); }},
      {"bad_state", [](const fs::path& c) { std::ofstream(c / "state.json") << "{ not json"; }},
      {"no_state", [](const fs::path& c) { fs::remove(c / "state.json"); }},
  };
  for (const auto& [name, damage] : damages) {
    const auto dir = two_checkpoints("damage_" + name);
    damage(dir / periodic_name(20));
    std::vector<std::string> notes;
    EXPECT_EQ(find_latest_checkpoint(dir.string(), &notes), (dir / periodic_name(10)).string()) << name;
    ASSERT_EQ(notes.size(), 1u) << name;
    EXPECT_NE(notes[0].find(periodic_name(20)), std::string::npos) << name << ": " << notes[0];
    EXPECT_THROW(read_checkpoint((dir / periodic_name(20)).string()), finch::Error) << name;
  }
}

TEST(Checkpoint, LatestPointerToAMissingCheckpointFallsBack) {
  const auto dir = two_checkpoints("dangling");
  fs::remove_all(dir / periodic_name(20));
  EXPECT_EQ(find_latest_checkpoint(dir.string()), (dir / periodic_name(10)).string());
}

TEST(Checkpoint, NothingIntactIsEmpty) {
  const auto dir = two_checkpoints("none");
  for (int64_t step : {10, 20}) truncate_file(dir / periodic_name(step) / "model.safetensors");
  std::vector<std::string> notes;
  EXPECT_EQ(find_latest_checkpoint(dir.string(), &notes), "");
  EXPECT_EQ(notes.size(), 2u);
}

TEST(Checkpoint, PruneKeepsTheNewestAndBest) {
  const auto dir = fresh_dir("prune");
  for (int64_t step : {5, 10, 15, 20}) write_checkpoint(dir.string(), periodic_name(step), sample(step));
  write_checkpoint(dir.string(), "best", sample(10));
  set_latest(dir.string(), periodic_name(20));
  prune_checkpoints(dir.string(), 2);
  EXPECT_FALSE(fs::exists(dir / periodic_name(5)));
  EXPECT_FALSE(fs::exists(dir / periodic_name(10)));
  EXPECT_TRUE(fs::exists(dir / periodic_name(15)));
  EXPECT_TRUE(fs::exists(dir / periodic_name(20)));
  EXPECT_TRUE(fs::exists(dir / "best" / "model.safetensors"));
  EXPECT_EQ(find_latest_checkpoint(dir.string()), (dir / periodic_name(20)).string());
}

// `latest` naming a checkpoint of another folder (an intact copy elsewhere) is not followed: an eval
// or a resume of this run would otherwise read, and write its report next to, another run.
TEST(Checkpoint, LatestIsFollowedOnlyWithinItsFolder) {
  const auto dir = two_checkpoints("contained");
  const auto elsewhere = fresh_dir("contained_elsewhere");
  write_checkpoint(elsewhere.string(), periodic_name(99), sample(99));
  for (const std::string& pointer : {"../finch_ckpt_contained_elsewhere/" + periodic_name(99), (elsewhere / periodic_name(99)).string()}) {
    std::ofstream(dir / "latest") << pointer << "\n";
    std::vector<std::string> notes;
    EXPECT_EQ(find_latest_checkpoint(dir.string(), &notes), (dir / periodic_name(20)).string()) << pointer;
    ASSERT_EQ(notes.size(), 1u) << pointer;
    EXPECT_NE(notes[0].find("not a checkpoint name of that folder"), std::string::npos) << notes[0];
  }
}

// What a resume from step 10 would replace: the later periodic ones and a later best, each verified.
TEST(Checkpoint, CheckpointsAfterAStepAreTheLaterOnesVerified) {
  const auto dir = two_checkpoints("after");
  write_checkpoint(dir.string(), periodic_name(30), sample(30));
  write_checkpoint(dir.string(), "best", sample(20));
  truncate_file(dir / periodic_name(30) / "model.safetensors");
  const auto later = checkpoints_after(dir.string(), 10);
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[0].name, periodic_name(30));
  EXPECT_FALSE(later[0].problem.empty()) << "damaged";
  EXPECT_EQ(later[1].name, periodic_name(20));
  EXPECT_TRUE(later[1].problem.empty());
  EXPECT_EQ(later[2].name, "best");
  EXPECT_EQ(later[2].step, 20);
  EXPECT_TRUE(checkpoints_after(dir.string(), 30).empty()) << "best (step 20) is not after step 30";
  // Set aside: moved whole into a new folder of their own, the names free.
  const auto aside = set_aside(dir.string(), {periodic_name(20), "best"});
  EXPECT_TRUE(fs::exists(fs::path(aside) / periodic_name(20) / "state.json"));
  EXPECT_TRUE(fs::exists(fs::path(aside) / "best" / "state.json"));
  EXPECT_FALSE(fs::exists(dir / periodic_name(20)));
  EXPECT_NE(set_aside(dir.string(), {}), aside) << "a second set-aside gets a folder of its own";
}

// A checkpoint's file swapped for an empty one whose size and checksum were written into
// state.json (a careless hand) once resumed with Adam's state silently reset: the tensor count
// recorded beside the checksum catches it, naming the file.
TEST(Checkpoint, AFileHoldingAnotherTensorCountIsRefused) {
  const auto dir = two_checkpoints("tensor_count");
  const auto ck = dir / periodic_name(20);
  write_safetensors((ck / "optimizer.safetensors").string(), {}, {{"format", "finch"}});
  auto state = nlohmann::json::parse(std::ifstream(ck / "state.json"));
  for (const auto& c : verify_checkpoint_files(ck.string(), state))
    if (c.file == "optimizer.safetensors") state["files"][c.file].update({{"bytes", c.bytes}, {"fnv1a64", c.fnv1a64}});
  std::ofstream(ck / "state.json") << state.dump();
  try {
    read_checkpoint(ck.string());
    FAIL() << "an emptied optimizer.safetensors was read";
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find((ck / "optimizer.safetensors").string() + "' holds 0 tensors, its state.json says 1"), std::string::npos)
        << e.what();
  }
  // Checkpoints written before the count was recorded are read as before.
  state["files"]["optimizer.safetensors"].erase("tensors");
  std::ofstream(ck / "state.json") << state.dump();
  EXPECT_TRUE(read_checkpoint(ck.string()).optimizer.empty());
}

// An EMA's weights (train.ema) travel as a third tensor file, checked as the other two: read back
// as written, and a damaged or emptied one is refused naming it. Without one, none is looked for.
TEST(Checkpoint, EmaWeightsAreAThirdCheckedFile) {
  const auto dir = fresh_dir("ema");
  CheckpointData d = sample(5);
  d.ema = {{"w", torch::full({4, 3}, 0.5f)}, {"b", torch::zeros({3})}};
  write_checkpoint(dir.string(), "with", d);
  write_checkpoint(dir.string(), "without", sample(5));
  const auto back = read_checkpoint((dir / "with").string());
  ASSERT_EQ(back.ema.size(), 2u);
  EXPECT_TRUE(back.ema[0].second.equal(d.ema[0].second));
  EXPECT_EQ(back.state["files"]["ema.safetensors"]["tensors"], 2);
  EXPECT_TRUE(read_checkpoint((dir / "without").string()).ema.empty());
  EXPECT_FALSE(fs::exists(dir / "without" / "ema.safetensors"));
  EXPECT_EQ(verify_checkpoint_files((dir / "with").string(), back.state).size(), 3u);

  flip_a_byte(dir / "with" / "ema.safetensors");
  try {
    read_checkpoint((dir / "with").string());
    FAIL() << "a damaged ema.safetensors was read";
  } catch (const finch::Error& e) {
    EXPECT_NE(std::string(e.what()).find("ema.safetensors"), std::string::npos) << e.what();
  }
  fs::remove(dir / "with" / "ema.safetensors");
  EXPECT_THROW(read_checkpoint((dir / "with").string()), finch::Error);  // recorded, missing
}
