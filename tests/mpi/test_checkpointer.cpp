// train::Checkpointer under mpiexec -n 1 and -n 2: it saves when its policy says, on every rank
// together (Note [Checkpoint calls are collective]), each rank's progress in its own row; a resume
// gives each rank its row back and the parts their state; a failed write stops every rank
// (checkpoint.on_error=fail) or none (warn).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "finch/core/error.h"
#include "finch/distributed/agree.h"
#include "finch/distributed/communicator.h"
#include "finch/io/checkpoint.h"
#include "finch/train/checkpointer.h"
#include "finch/train/grad_scaler.h"
#include "finch/train/optim.h"
#include "finch/train/schedule.h"

using namespace finch;
namespace fs = std::filesystem;

namespace {

// A run's checkpointed parts around a small model.
struct Parts {
  // Seeded: every rank's replica starts equal, as the trainer's broadcast makes them.
  explicit Parts(const Config& c)
      : model((torch::manual_seed(7), torch::nn::Linear(4, 3))), optimizer(train::make_optimizer(*model, c.optimizer)), schedule(c.scheduler, c.optimizer.lr, c.train.epochs),
        stopper(c.early_stopping) {}
  train::CheckpointedParts refs() { return {*model, *optimizer, schedule, stopper, scaler}; }
  torch::nn::Linear model;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  train::LrSchedule schedule;
  train::EarlyStopping stopper;
  train::GradScaler scaler;
};

// A run directory every rank sees (rank 0 empties it).
RunDir fresh_dir(distributed::Communicator& comm, const std::string& name) {
  RunDir dir{fs::temp_directory_path() / fmt::format("finch_checkpointer_{}_np{}", name, comm.size())};
  if (comm.rank() == 0) fs::remove_all(dir.root), fs::create_directories(dir.root);
  comm.barrier();
  return dir;
}

train::RankProgress progress_of(int rank) { return {1.5 + rank, 10.0 * rank, 8, rank}; }

}  // namespace

TEST(RankProgress, ARankGetsItsOwnRowOnTheSameWorldAndRankZeroTheTotalsOnAnother) {
  const std::vector<std::vector<double>> rows = {{1, 2, 8, 0}, {3, 4, 8, 1}};
  const auto r1 = train::RankProgress::for_rank(rows, 1, 2);
  EXPECT_EQ(r1.to_values(), (std::vector<double>{3, 4, 8, 1}));
  EXPECT_EQ(train::RankProgress::for_rank(rows, 0, 3).to_values(), (std::vector<double>{4, 6, 16, 1}));
  EXPECT_EQ(train::RankProgress::for_rank(rows, 2, 3).to_values(), (std::vector<double>{0, 0, 0, 0}));
  EXPECT_EQ(train::RankProgress::from_values({5, 6, 7}).to_values(), (std::vector<double>{5, 6, 7, 0})) << "rows of older checkpoints";
  EXPECT_EQ(r1.next_epoch().to_values(), (std::vector<double>{0, 0, 0, 1})) << "skipped images run on across epochs";
}

TEST(Checkpointer, SavesWhenItsPolicySaysWithEveryRanksProgressAndRestoresIt) {
  auto comm = distributed::make_mpi_communicator();
  const int r = comm->rank(), W = comm->size();
  Config c;
  c.checkpoint.every_steps = 2;
  c.checkpoint.keep_last = 2;
  c.checkpoint.every_epochs = 0;
  const RunDir dir = fresh_dir(*comm, "policy");
  Parts parts(c);
  train::Checkpointer ck(c, dir, *comm, parts.refs(), {"a", "b", "c"});
  // Steps 1..8 of an epoch of 8: every second one saves, except the epoch's last (the epoch end's).
  for (int64_t step = 1; step <= 8; ++step)
    ck.step_end_collective({0, false, step, step * 4 * W}, progress_of(r), /*epoch_ends=*/step == 8);
  if (r == 0) {
    EXPECT_FALSE(fs::exists(dir.checkpoints() / io::periodic_name(2))) << "keep_last=2 pruned it";
    EXPECT_TRUE(fs::exists(dir.checkpoints() / io::periodic_name(4)));
    EXPECT_TRUE(fs::exists(dir.checkpoints() / io::periodic_name(6)));
    EXPECT_FALSE(fs::exists(dir.checkpoints() / io::periodic_name(8))) << "the epoch's last step is the epoch end's to save";
    std::ifstream latest(dir.checkpoints() / "latest");
    std::string name;
    latest >> name;
    EXPECT_EQ(name, io::periodic_name(6));
    const auto state = nlohmann::json::parse(std::ifstream(dir.checkpoints() / name / "state.json"));
    ASSERT_EQ(state["rank_progress"].size(), static_cast<size_t>(W));
    for (int q = 0; q < W; ++q) EXPECT_EQ(state["rank_progress"][q].get<std::vector<double>>(), progress_of(q).to_values()) << "rank " << q;
    EXPECT_EQ(state["sample_offset"].get<int64_t>(), 24 * W);
    EXPECT_EQ(state["class_names"].get<std::vector<std::string>>(), (std::vector<std::string>{"a", "b", "c"}));
  }
  // An epoch end that improved: `best` and the weights kept; not due and not last: no periodic one.
  EXPECT_FALSE(ck.epoch_end_collective({0, true, 8, 0}, progress_of(r), /*improved=*/true, /*last=*/false));
  EXPECT_FALSE(ck.best_weights().empty());
  if (r == 0) {
    EXPECT_TRUE(fs::exists(dir.checkpoints() / "best" / "state.json"));
    EXPECT_FALSE(fs::exists(dir.checkpoints() / io::periodic_name(8)));
  }
  EXPECT_TRUE(ck.epoch_end_collective({0, true, 8, 0}, progress_of(r), false, /*last=*/true));
  comm->barrier();

  // A resume (of ckpt-8: the epoch was complete) on fresh parts.
  Parts again(c);
  {
    torch::NoGradGuard no_grad;
    again.model->weight.add_(1);  // not the weights that were saved
  }
  train::Checkpointer back(c, dir, *comm, again.refs(), {"a", "b", "c"});
  const train::Restored got = back.restore(dir.root.string());
  EXPECT_EQ(got.global_step, 8);
  EXPECT_EQ(got.start_epoch, 1);
  EXPECT_EQ(got.start_offset, 0);
  EXPECT_EQ(got.saved_by_world, W);
  EXPECT_EQ(got.mine.to_values(), progress_of(r).next_epoch().to_values()) << "a complete epoch's sums start again";
  EXPECT_TRUE(torch::equal(again.model->weight, parts.model->weight));
  // ... and of the older, mid-epoch ckpt-6: refused while ckpt-8 and best are newer (Note [A resume
  // never replaces a newer checkpoint]); with force they are set aside and it gives this rank its
  // own row, where the epoch stood.
  Parts mid(c);
  train::Checkpointer back_mid(c, dir, *comm, mid.refs(), {"a", "b", "c"});
  const std::string six = (dir.checkpoints() / io::periodic_name(6)).string();
  EXPECT_THROW(back_mid.restore(six), ConfigError);
  comm->barrier();
  const auto m = back_mid.restore(six, /*force=*/true);
  comm->barrier();
  if (r == 0) {
    EXPECT_FALSE(fs::exists(dir.checkpoints() / io::periodic_name(8))) << "set aside";
  }
  EXPECT_EQ(m.start_epoch, 0);
  EXPECT_EQ(m.start_offset, 24 * W);
  EXPECT_EQ(m.mine.to_values(), progress_of(r).to_values());
}

TEST(Checkpointer, AFailedWriteStopsEveryRankOrNone) {
  auto comm = distributed::make_mpi_communicator();
  Config c;
  const RunDir dir = fresh_dir(*comm, "fail");
  if (comm->rank() == 0) std::ofstream(dir.checkpoints()) << "a file where the checkpoints folder should be";
  comm->barrier();
  Parts parts(c);
  c.checkpoint.on_error = OnCheckpointError::kFail;
  train::Checkpointer fail(c, dir, *comm, parts.refs(), {});
  try {
    fail.save_now_collective({0, false, 1, 8}, progress_of(comm->rank()));
    ADD_FAILURE() << "rank " << comm->rank() << " went on after a failed checkpoint";
  } catch (const distributed::AgreedExit& e) {
    EXPECT_EQ(e.exit_code(), 1);
    if (comm->rank() == 0) {
      EXPECT_NE(std::string(e.what()).find("checkpoint not written"), std::string::npos) << e.what();
    }
  }
  c.checkpoint.on_error = OnCheckpointError::kWarn;
  train::Checkpointer warn(c, dir, *comm, parts.refs(), {});
  EXPECT_NO_THROW(warn.save_now_collective({0, false, 1, 8}, progress_of(comm->rank())));
}
