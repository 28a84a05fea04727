#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "finch/core/error.h"
#include "finch/io/weight_import.h"

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
    EXPECT_NE(std::string(e.what()).find("not a torch.save zip archive"), std::string::npos) << e.what();
  }
  EXPECT_THROW(finch::io::read_torch_state_dict("/nonexistent.pth"), finch::RuntimeError);
}
