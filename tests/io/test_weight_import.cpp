#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "finch/core/error.h"
#include "finch/io/weight_import.h"
#include "finch/io/weight_metadata.h"

using finch::io::timm_to_torchvision;

TEST(TimmNames, MapsEveryKindOfLayer) {
  EXPECT_EQ(timm_to_torchvision("conv_stem.weight"), "features.0.0.weight");
  EXPECT_EQ(timm_to_torchvision("bn1.running_var"), "features.0.1.running_var");
  EXPECT_EQ(timm_to_torchvision("blocks.0.0.conv_dw.weight"), "features.1.0.block.0.0.weight");
  EXPECT_EQ(timm_to_torchvision("blocks.0.0.bn1.num_batches_tracked"), "features.1.0.block.0.1.num_batches_tracked");
  EXPECT_EQ(timm_to_torchvision("blocks.0.0.se.conv_reduce.bias"), "features.1.0.block.1.fc1.bias");
  EXPECT_EQ(timm_to_torchvision("blocks.0.0.conv_pw.weight"), "features.1.0.block.2.0.weight");
  EXPECT_EQ(timm_to_torchvision("blocks.3.2.conv_pw.weight"), "features.4.2.block.0.0.weight");
  EXPECT_EQ(timm_to_torchvision("blocks.3.2.bn2.bias"), "features.4.2.block.1.1.bias");
  EXPECT_EQ(timm_to_torchvision("blocks.3.2.se.conv_expand.weight"), "features.4.2.block.2.fc2.weight");
  EXPECT_EQ(timm_to_torchvision("blocks.6.0.conv_pwl.weight"), "features.7.0.block.3.0.weight");
  EXPECT_EQ(timm_to_torchvision("blocks.6.0.bn3.running_mean"), "features.7.0.block.3.1.running_mean");
  EXPECT_EQ(timm_to_torchvision("conv_head.weight"), "features.8.0.weight");
  EXPECT_EQ(timm_to_torchvision("bn2.weight"), "features.8.1.weight");
  EXPECT_EQ(timm_to_torchvision("classifier.bias"), "classifier.1.bias");
}

TEST(TimmNames, UnknownNamesAreErrors) {
  EXPECT_THROW(timm_to_torchvision("blocks.0.0.conv_pwl.weight"), finch::RuntimeError);  // not in a DS block
  EXPECT_THROW(timm_to_torchvision("blocks.7.0.conv_pw.weight"), finch::RuntimeError);   // stage out of range
  EXPECT_THROW(timm_to_torchvision("head.fc.weight"), finch::RuntimeError);
}

TEST(TorchStateDict, NotAZipArchiveIsAClearError) {
  const auto path = (std::filesystem::temp_directory_path() / "finch_not_a_zip.pth").string();
  std::ofstream(path) << "this is not a torch.save file";
  try {
    finch::io::read_torch_state_dict(path);
    FAIL();
  } catch (const finch::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a torch.save file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(finch::io::read_torch_state_dict("/nonexistent.pth"), finch::RuntimeError);
}

TEST(TimmNames, LiteBlocksHaveNoSqueezeExcitationPosition) {
  const finch::io::EfficientNetLayout lite{{1, 2, 2, 3, 3, 4, 1}, /*se=*/false};
  EXPECT_EQ(timm_to_torchvision("blocks.0.0.conv_pw.weight", lite), "features.1.0.block.1.0.weight");
  EXPECT_EQ(timm_to_torchvision("blocks.3.2.conv_pwl.weight", lite), "features.4.2.block.2.0.weight");
  EXPECT_THROW(timm_to_torchvision("blocks.3.2.se.conv_reduce.weight", lite), finch::RuntimeError);
  EXPECT_THROW(timm_to_torchvision("blocks.6.1.conv_pw.weight", lite), finch::RuntimeError);  // stage 7 has one block
}

// EfficientNet-PyTorch numbers blocks across stages; B0 and Lite0 have 1, 2, 2, 3, 3, 4, 1.
TEST(EfficientNetPytorchNames, MapsBlocksAcrossStages) {
  using finch::io::efficientnet_pytorch_to_torchvision;
  const finch::io::EfficientNetLayout b0{{1, 2, 2, 3, 3, 4, 1}, /*se=*/true}, lite{{1, 2, 2, 3, 3, 4, 1}, /*se=*/false};
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_conv_stem.weight", lite), "features.0.0.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_bn0.running_var", lite), "features.0.1.running_var");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.0._depthwise_conv.weight", lite), "features.1.0.block.0.0.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.0._bn1.bias", lite), "features.1.0.block.0.1.bias");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.0._project_conv.weight", lite), "features.1.0.block.1.0.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.0._project_conv.weight", b0), "features.1.0.block.2.0.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.0._se_reduce.bias", b0), "features.1.0.block.1.fc1.bias");
  // _blocks.1 and .2 are stage 2; _blocks.3 opens stage 3; _blocks.15 is stage 7's only block.
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.2._expand_conv.weight", lite), "features.2.1.block.0.0.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.3._bn0.num_batches_tracked", lite), "features.3.0.block.0.1.num_batches_tracked");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.3._depthwise_conv.weight", b0), "features.3.0.block.1.0.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.3._se_expand.weight", b0), "features.3.0.block.2.fc2.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.3._bn2.weight", b0), "features.3.0.block.3.1.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_blocks.15._bn2.weight", lite), "features.7.0.block.2.1.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_conv_head.weight", lite), "features.8.0.weight");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_bn1.running_mean", lite), "features.8.1.running_mean");
  EXPECT_EQ(efficientnet_pytorch_to_torchvision("_fc.bias", lite), "classifier.1.bias");
  EXPECT_THROW(efficientnet_pytorch_to_torchvision("_blocks.16._bn2.weight", lite), finch::RuntimeError);     // no 17th block
  EXPECT_THROW(efficientnet_pytorch_to_torchvision("_blocks.0._expand_conv.weight", lite), finch::RuntimeError);  // stage 1 has none
  EXPECT_THROW(efficientnet_pytorch_to_torchvision("_blocks.3._se_reduce.weight", lite), finch::RuntimeError);   // Lite has no SE
  EXPECT_THROW(efficientnet_pytorch_to_torchvision("module._fc.weight", lite), finch::RuntimeError);
}

TEST(WeightMetadata, RoundTripsAndRefusesWhatDoesNotParse) {
  finch::io::WeightMetadata m;
  m.arch = "efficientnet_lite0";
  m.source = "efficientnet-pytorch";
  m.padding = "tf_same";
  m.bn_eps = 1e-3;
  m.mean = std::array<double, 3>{127 / 255.0, 127 / 255.0, 127 / 255.0};
  m.std = std::array<double, 3>{0.5, 0.5, 0.5};
  const auto back = finch::io::weight_metadata(finch::io::to_safetensors_metadata(m), "w.safetensors");
  EXPECT_EQ(back.arch, m.arch);
  EXPECT_EQ(back.padding, m.padding);
  EXPECT_EQ(back.bn_eps, m.bn_eps);
  EXPECT_EQ(back.mean, m.mean);  // to the bit: JSON numbers round-trip doubles
  EXPECT_EQ(back.std, m.std);
  EXPECT_FALSE(finch::io::weight_metadata({}, "old.safetensors").padding);  // files of earlier versions record nothing
  EXPECT_THROW(finch::io::weight_metadata({{"padding", "valid"}}, "w"), finch::RuntimeError);
  EXPECT_THROW(finch::io::weight_metadata({{"mean", "[0.5, 0.5]"}}, "w"), finch::RuntimeError);
  EXPECT_THROW(finch::io::weight_metadata({{"bn_eps", "big"}}, "w"), finch::RuntimeError);
}
