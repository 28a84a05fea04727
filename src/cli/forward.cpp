// finch forward: run a model on a tensor file and write the logits; the tool that proves a port
// (compare with the framework the weights came from).
#include <iostream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "commands.h"
#include "finch/core/error.h"
#include "finch/core/torch_compat.h"
#include "finch/distributed/run_context.h"
#include "finch/model/build.h"
#include "finch/io/safetensors.h"
#include "finch/model/efficientnet.h"
#include "finch/model/weights.h"
#include "finch/train/run_inputs.h"

namespace finch::cli {

Command add_forward(CLI::App& parent) {
  auto* app = parent.add_subcommand("forward", "Eval-mode forward of a tensor file through a model (port checks)");
  struct Opts {
    std::string arch, weights, input, output, state_out;
    DeviceRequest device = DeviceRequest::kCpu;
    Amp amp = Amp::kNone;
    ModelPadding padding = ModelPadding::kAuto;
    int64_t classes = 1000;
    bool train = false;
    double stochastic_depth = 0.2;
  };
  auto o = std::make_shared<Opts>();
  app->add_option("--arch", o->arch, "efficientnet_b0 ... efficientnet_b7, efficientnet_lite0 ... efficientnet_lite4")->required();
  add_choice_option(app, "--padding", o->padding, "auto (what the weights record, else symmetric), symmetric or tf_same");
  app->add_option("--classes", o->classes, "Classes of the head in the weights")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_option("--weights,-w", o->weights, "finch safetensors (from import-weights or a checkpoint)")->required();
  app->add_option("--input,-i", o->input, "safetensors with a float32 tensor 'input' (N x 3 x H x W)")->required();
  app->add_option("--output,-o", o->output, "safetensors to write the tensor 'logits' to")->required();
  app->add_flag("--train", o->train, "Train mode instead (BatchNorm uses batch statistics and updates its running ones)");
  app->add_option("--stochastic-depth", o->stochastic_depth, "Stochastic depth probability (train mode only)")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  app->add_option("--state-out", o->state_out, "Also write every parameter and buffer after the forward (e.g. BN running stats)");
  add_device_option(app, o->device);
  add_choice_option(app, "--amp", o->amp, "Autocast on CUDA: none, bf16 or fp16 (as train.amp)");
  return {app, [o]() {
            Config c;
            c.model.arch = o->arch;
            c.model.classes = static_cast<int>(o->classes);
            c.model.stochastic_depth = o->stochastic_depth;
            c.model.pretrained = o->weights;
            c.model.padding = o->padding;
            train::resolve_from_weights(c);  // padding and BatchNorm epsilon as the weights record them
            model::EfficientNet net(model::options_from_config(c.model));
            model::load_weights(*net, io::read_safetensors(o->weights).in_order(), o->weights);
            const auto in = io::read_safetensors(o->input);
            const auto it = in.tensors.find("input");
            if (it == in.tensors.end()) throw RuntimeError("'" + o->input + "' has no tensor named 'input'");
            const at::Tensor x = it->second;
            if (x.dim() != 4 || x.size(1) != 3)
              throw RuntimeError(fmt::format("'{}': tensor 'input' must be N x 3 x H x W, got [{}]", o->input, fmt::join(x.sizes(), ", ")));
            auto control = distributed::make_mpi_communicator();  // forward runs as one process
            const torch::Device device = distributed::make_run_context(*control, {o->device, true, Backend::kMpi}).device;
            if (o->amp != Amp::kNone && !device.is_cuda()) throw ConfigError("--amp needs a CUDA device (--device cuda)");
            net->to(device);
            net->train(o->train);
            torch::NoGradGuard no_grad;
            at::Tensor logits;
            {
              compat::CudaAutocast autocast(o->amp != Amp::kNone, o->amp == Amp::kBF16 ? at::kBFloat16 : at::kHalf);
              logits = net->forward(x.to(device, torch::kFloat));
            }
            logits = logits.to(torch::kCPU, torch::kFloat);
            net->to(torch::kCPU);  // --state-out is written from host memory
            io::write_safetensors(o->output, {{"logits", logits}}, {{"arch", net->options().arch}, {"mode", o->train ? "train" : "eval"}});
            if (!o->state_out.empty()) io::write_safetensors(o->state_out, model::model_state(*net));
            std::cout << fmt::format("wrote {}: logits [{}]\n", o->output, fmt::join(logits.sizes(), ", "));
            return 0;
          }};
}

}  // namespace finch::cli
