// The data side of a training run: the dataset and its train/val/test split, each epoch's
// distributed sampler, loaders of training batches, and how validation and test batches are made.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "finch/core/config.h"
#include "finch/data/dataset.h"
#include "finch/data/loader.h"
#include "finch/data/sampler.h"
#include "finch/train/evaluate.h"

namespace finch::train {

class TrainData {
 public:
  // Opens config.data (ConfigError when its classes are not model.classes). Not collective.
  // `bundle`: the data set of config.data (opened by the caller, which resolved model.classes from it).
  TrainData(const Config& config, int rank, int world, c10::Device device, data::DatasetBundle bundle);

  const data::DatasetBundle& bundle() const { return bundle_; }

  // Epoch `epoch`'s order over the train split: this rank's share, in steps of
  // batch_size x accum_steps samples per rank.
  data::DistributedSampler sampler(int64_t epoch) const;
  // Precise BN's order in epoch `epoch`: the same shares, a permutation of its own seed stream.
  data::DistributedSampler precise_bn_sampler(int64_t epoch) const;
  // Training-transform batches of sampler positions `positions` (the augmentation draws depend on
  // `epoch`), written in channels_last memory when the model runs in it (Note [Memory format]).
  data::BatchLoader train_batches(const std::vector<int64_t>& positions, int epoch, bool channels_last) const;
  // Evaluation batches on `device` (the eval transform, the training batch size).
  EvalOptions eval_options(bool per_class, bool channels_last) const;

 private:
  data::DistributedSampler make_sampler(int64_t epoch, uint64_t stream) const;

  Config c_;
  int rank_, world_;
  c10::Device device_;
  data::DatasetBundle bundle_;
};

// A run's data, opened as finch train and `finch bench e2e --config` open it: config.data's data
// set, then the keys left to the inputs resolved in `config` once, before anything is built from
// them (model.classes from the data set; padding, eps and normalisation from the weights:
// train/run_inputs). `notes` receives where each resolved key came from. Not collective.
std::unique_ptr<TrainData> open_train_data(Config& config, int rank, int world, c10::Device device,
                                           std::vector<std::string>* notes = nullptr);

}  // namespace finch::train
