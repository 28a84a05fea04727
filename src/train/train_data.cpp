#include "finch/train/train_data.h"

#include <fmt/format.h>

#include "finch/core/error.h"
#include "finch/core/seed.h"
#include "finch/train/run_inputs.h"

namespace finch::train {

TrainData::TrainData(const Config& config, int rank, int world, c10::Device device, data::DatasetBundle bundle)
    : c_(config), rank_(rank), world_(world), device_(device), bundle_(std::move(bundle)) {}

data::DistributedSampler TrainData::sampler(int64_t epoch) const { return make_sampler(epoch, seed_stream::kTrainOrder); }

data::DistributedSampler TrainData::precise_bn_sampler(int64_t epoch) const { return make_sampler(epoch, seed_stream::kPreciseBnOrder); }

data::DistributedSampler TrainData::make_sampler(int64_t epoch, uint64_t stream) const {
  data::SamplerOptions so;
  so.size = static_cast<int64_t>(bundle_.split.train.size());
  so.world = world_;
  so.rank = rank_;
  so.batch_size = c_.train.batch_size * c_.train.accum_steps;  // samples per rank per optimizer step
  so.drop_last = c_.data.drop_last;
  so.seed = c_.train.seed;
  so.stream = stream;
  data::DistributedSampler s(so);
  s.set_epoch(epoch);
  return s;
}

data::BatchLoader TrainData::train_batches(const std::vector<int64_t>& positions, int epoch, bool channels_last) const {
  data::LoaderOptions lo;
  lo.batch_size = c_.train.batch_size;
  lo.workers = c_.data.workers;
  lo.prefetch = c_.data.prefetch;
  lo.transform = data::train_transform(c_.data);
  lo.skip_errors = c_.data.on_error == OnBadImage::kSkip;
  lo.seed = c_.train.seed;
  lo.epoch = epoch;
  lo.pin_memory = device_.is_cuda();
  lo.channels_last = channels_last;
  std::vector<int64_t> order;  // sampler positions -> dataset indices of the train split
  for (int64_t k : positions) order.push_back(bundle_.split.train[k]);
  return data::BatchLoader(bundle_.source, std::move(order), lo);
}

EvalOptions TrainData::eval_options(bool per_class, bool channels_last) const {
  EvalOptions o;
  o.batch_size = c_.train.batch_size;
  o.workers = c_.data.workers;
  o.prefetch = c_.data.prefetch;
  o.transform = data::eval_transform(c_.data);
  o.hflip_tta = c_.eval.tta == Tta::kHflip;
  o.device = device_;
  o.channels_last = channels_last;
  o.per_class = per_class;
  o.classes = c_.model.classes;
  return o;
}

std::unique_ptr<TrainData> open_train_data(Config& config, int rank, int world, c10::Device device, std::vector<std::string>* notes) {
  auto bundle = data::open_dataset(config.data, config.train.seed);
  resolve_classes(config, bundle.source->class_names().size());
  auto resolved = resolve_from_weights(config);
  if (config.data.eval_image_size > 0 || config.data.eval_resize > 0 || config.eval.tta != Tta::kNone) {  // said once, at the start
    const auto tf = data::eval_transform(config.data);
    resolved.push_back(fmt::format("evaluation at {} px (resize {}; training at {}){}", tf.size, tf.resize, config.data.image_size,
                                   config.eval.tta == Tta::kHflip ? ", logits averaged with the mirrored image (eval.tta=hflip)" : ""));
  }
  if (notes) *notes = std::move(resolved);
  return std::make_unique<TrainData>(config, rank, world, device, std::move(bundle));
}

}  // namespace finch::train
