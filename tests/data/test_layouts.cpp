// ImageFolder trees and CSV manifests (data/layouts.h): what they read as, and each bad layout's
// one-line error naming the path. The files are empty: opening a layout decodes nothing.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "finch/core/config.h"
#include "finch/core/error.h"
#include "finch/data/dataset.h"
#include "finch/data/layouts.h"

namespace fs = std::filesystem;
using finch::ConfigError;

namespace {

class LayoutDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("finch_layouts_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path touch(const std::string& rel) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "";
    return p;
  }
  void write(const std::string& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }
  // The ConfigError's message (FAIL when none is thrown).
  template <class F>
  std::string error_of(F&& f) {
    try {
      f();
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return "";
  }
  finch::data::DatasetBundle open(const std::string& rel, double val_fraction = 0.25) {
    finch::DataConfig d;
    d.root = (root_ / rel).string();
    d.val_fraction = val_fraction;
    return finch::data::open_dataset(d, 42);
  }
  fs::path root_;
};

}  // namespace

TEST_F(LayoutDir, ImageFolderSplitsAndSortedClasses) {
  for (int k = 0; k < 4; ++k) touch("t/train/wren/" + std::to_string(k) + ".jpg"), touch("t/train/finch/" + std::to_string(k) + ".PNG");
  touch("t/train/finch/.DS_Store");  // hidden files are skipped
  touch("t/val/wren/v.jpg");
  touch("t/test/finch/a.jpeg");
  touch("t/test/finch/sub/b.jpg");  // nested folders inside a class count, as torchvision's
  const auto b = open("t", /*val_fraction=*/0.5);
  EXPECT_EQ(b.source->class_names(), (std::vector<std::string>{"finch", "wren"}));
  EXPECT_EQ(b.split.train.size(), 8u);  // val/ is the validation split: nothing carved from train
  ASSERT_EQ(b.split.val.size(), 1u);
  EXPECT_EQ(b.source->info(b.split.val[0]).label, 1);
  EXPECT_EQ(b.split.test.size(), 2u);
  EXPECT_NE(b.source->describe().find("ImageFolder"), std::string::npos);
}

TEST_F(LayoutDir, ImageFolderWithoutValOrTestCarvesValAndHasNoTest) {
  for (int k = 0; k < 4; ++k) touch("t/train/a/" + std::to_string(k) + ".jpg"), touch("t/train/b/" + std::to_string(k) + ".jpg");
  const auto b = open("t", 0.25);
  EXPECT_EQ(b.split.val.size(), 2u);  // one per class, stratified
  EXPECT_EQ(b.split.train.size(), 6u);
  EXPECT_TRUE(b.split.test.empty());
}

TEST_F(LayoutDir, ImageFolderBadLayoutsNameThePath) {
  auto two_classes = [&](const std::string& t) { touch(t + "/train/a/1.jpg"), touch(t + "/train/b/1.jpg"); };
  // an empty class folder
  touch("e/train/a/1.jpg");
  fs::create_directories(root_ / "e/train/b");
  EXPECT_NE(error_of([&] { open("e"); }).find("class folder '" + (root_ / "e/train/b").string() + "' holds no images"), std::string::npos);
  // a file that is not an image
  two_classes("n");
  touch("n/train/a/notes.txt");
  EXPECT_NE(error_of([&] { open("n"); }).find((root_ / "n/train/a/notes.txt").string() + "' is not an image file"), std::string::npos);
  // a class in val/ or test/ that train/ lacks
  two_classes("v");
  touch("v/val/c/1.jpg");
  EXPECT_NE(error_of([&] { open("v"); }).find((root_ / "v/val/c").string() + "' has no counterpart in train/"), std::string::npos);
  two_classes("t");
  touch("t/test/zz/1.jpg");
  EXPECT_NE(error_of([&] { open("t"); }).find((root_ / "t/test/zz").string() + "' has no counterpart in train/"), std::string::npos);
  // an image outside any class folder
  two_classes("f");
  touch("f/train/loose.jpg");
  EXPECT_NE(error_of([&] { open("f"); }).find("loose.jpg' is a file directly in train/"), std::string::npos);
  // one class only
  touch("one/train/a/1.jpg");
  EXPECT_NE(error_of([&] { open("one"); }).find("at least 2"), std::string::npos);
  // a folder that is no known layout
  touch("neither/a/1.jpg");
  EXPECT_NE(error_of([&] { open("neither"); }).find("neither a CUB_200_2011 folder"), std::string::npos);
}

TEST_F(LayoutDir, CsvManifestWithNamesIndicesHeaderAndSplits) {
  for (const char* f : {"img/1.jpg", "img/2.jpg", "img/3.jpg", "img/4.jpg", "img/5 x.jpg"}) touch(f);
  write("names.csv", "Path, Label, Split\nimg/1.jpg,wren,train\nimg/2.jpg,finch,train\nimg/3.jpg,wren,val\nimg/4.jpg,finch,test\n\"img/5 x.jpg\",finch,train\n");
  const auto b = open("names.csv", 0.5);
  EXPECT_EQ(b.source->class_names(), (std::vector<std::string>{"finch", "wren"}));
  EXPECT_EQ(b.split.train.size(), 3u);
  EXPECT_EQ(b.split.val.size(), 1u);
  EXPECT_EQ(b.split.test.size(), 1u);
  EXPECT_EQ(b.source->name(b.split.val[0]), (root_ / "img/3.jpg").string());  // relative to the manifest
  write("idx.csv", "img/1.jpg,1\nimg/2.jpg,0\nimg/3.jpg,1\nimg/4.jpg,0\n");  // no header, no split column: all train
  const auto c = open("idx.csv", 0.0);
  EXPECT_EQ(c.source->class_names(), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(c.split.train.size(), 4u);
  EXPECT_TRUE(c.split.test.empty());
  EXPECT_EQ(c.source->info(0).label, 1);
}

TEST_F(LayoutDir, CsvManifestBadLinesNameFileAndLine) {
  touch("img/1.jpg"), touch("img/2.jpg"), touch("img/notes.txt");
  const std::string m = (root_ / "m.csv").string();
  auto bad = [&](const std::string& text, const std::string& want) {
    write("m.csv", text);
    const std::string e = error_of([&] { open("m.csv"); });
    EXPECT_NE(e.find(want), std::string::npos) << "got: " << e << "\nwanted: " << want;
  };
  bad("img/1.jpg,a\nimg/2.jpg,b\nimg/1.jpg,a\n", m + ":3: '" + (root_ / "img/1.jpg").string() + "' is listed twice (line 1 and line 3)");
  bad("img/1.jpg,a\nimg/2.jpg,b\n./img/2.jpg,b\n", m + ":3: '" + (root_ / "img/2.jpg").string() + "' is listed twice");  // same file, other spelling
  bad("img/1.jpg,a\nimg/missing.jpg,b\n", m + ":2: no image file '" + (root_ / "img/missing.jpg").string() + "'");
  bad("img/1.jpg,a\nimg/notes.txt,b\n", m + ":2: '" + (root_ / "img/notes.txt").string() + "' is not an image file");
  bad("img/1.jpg,a,train\nimg/2.jpg,c,val\n", m + ":2: label 'c' is outside the classes");
  bad("img/1.jpg,0\nimg/2.jpg,2\n", m + ": class 1 has no training images");
  bad("img/1.jpg,a,training\n", m + ":1: split 'training': expected train, val or test");
  bad("img/1.jpg\n", m + ":1: expected path,label[,split], got 1 field(s)");
  bad("path,label\n", m + "' lists no images");
}
