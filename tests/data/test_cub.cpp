#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "data_fixtures.h"
#include "finch/core/error.h"
#include "finch/data/cub.h"

using namespace finch::data;
using finch::testing::copy_tree;
using finch::testing::replace_line;
using finch::testing::synthetic_tree;

namespace {

void expect_problem(const std::string& root, const std::string& fragment) {
  const auto r = read_cub_report(root);
  bool found = false;
  for (const auto& p : r.problems) found = found || p.find(fragment) != std::string::npos;
  EXPECT_TRUE(found) << "no problem mentions: " << fragment << "\nproblems: " << (r.problems.empty() ? "(none)" : r.problems[0]);
  EXPECT_THROW(read_cub(root), finch::RuntimeError);
}

}  // namespace

TEST(CubReader, ExactCountsAndSplitOfAGeneratedTree) {
  const auto ds = read_cub(synthetic_tree(6, 10));
  ASSERT_EQ(ds.images.size(), 60u);
  EXPECT_EQ(ds.class_names.size(), 6u);
  EXPECT_EQ(ds.class_names[0], "001.Synthetic_bird_001");
  EXPECT_TRUE(ds.has_bboxes);
  int train = 0;
  std::vector<int> per_class(6, 0);
  for (const auto& img : ds.images) {
    train += img.is_train;
    per_class[img.label] += img.is_train;
    ASSERT_TRUE(img.bbox.has_value());
    EXPECT_TRUE(std::filesystem::exists(ds.root + "/images/" + img.path));
  }
  EXPECT_EQ(train, 30);  // 5 of 10 per class
  for (int c : per_class) EXPECT_EQ(c, 5);
  EXPECT_EQ(ds.images[0].id, 1);
  EXPECT_EQ(ds.images[59].label, 5);  // labels are 0-based inside finch
}

TEST(CubReader, MalformedLinesNameFileAndLine) {
  const auto base = synthetic_tree(6, 10);
  auto t = copy_tree(base, "badline");
  replace_line(t + "/images.txt", 3, "3");
  expect_problem(t, "images.txt:3: expected '<image_id> <relative path>'");
  t = copy_tree(base, "badlabel");
  replace_line(t + "/image_class_labels.txt", 7, "7 201");
  expect_problem(t, "image_class_labels.txt:7: class id '201' of image 7 is not in 1..6");
  t = copy_tree(base, "badsplit");
  replace_line(t + "/train_test_split.txt", 2, "2 yes");
  expect_problem(t, "train_test_split.txt:2: is_training_image must be 0 or 1");
  t = copy_tree(base, "badclass");
  replace_line(t + "/classes.txt", 2, "5 out_of_order");
  expect_problem(t, "classes.txt:2: class id 5 out of order");
  t = copy_tree(base, "badbox");
  replace_line(t + "/bounding_boxes.txt", 4, "4 1 2 -3 4");
  expect_problem(t, "bounding_boxes.txt:4:");
  for (const char* odd : {"4 nan 2 3 4", "4 1 2 inf 4", "4 1 2 3 -nan", "4 1e39 2 3 4"}) {  // nan and inf were accepted
    t = copy_tree(base, "oddbox");
    replace_line(t + "/bounding_boxes.txt", 4, odd);
    expect_problem(t, "bounding_boxes.txt:4: expected '<id> <x> <y> <width> <height>'");
  }
  t = copy_tree(base, "dup");
  replace_line(t + "/images.txt", 5, "4 001.Synthetic_bird_001/x.jpg");
  expect_problem(t, "images.txt:5: duplicate image id 4 (first at line 4)");
  t = copy_tree(base, "escape");
  replace_line(t + "/images.txt", 5, "5 ../../etc/passwd");
  expect_problem(t, "leaves the images folder");
}

// README promises one line per error: read_cub says the first problem and how many more there are
// (they were a list of up to 10 lines).
TEST(CubReader, AnUnusableTreeIsOneLine) {
  const auto base = synthetic_tree(6, 10);
  const auto t = copy_tree(base, "oneline");
  replace_line(t + "/image_class_labels.txt", 7, "7 201");
  replace_line(t + "/train_test_split.txt", 2, "2 yes");
  try {
    read_cub(t);
    FAIL() << "a broken tree was read";
  } catch (const finch::RuntimeError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find("usable CUB-200-2011 tree: " + t + "/train_test_split.txt:2: is_training_image must be 0 or 1"), std::string::npos) << what;
    EXPECT_NE(what.find("and 1 more problem: `finch dataset --root " + t + "` lists them all"), std::string::npos) << what;
  }
}

TEST(CubReader, IdsMissingFromAFile) {
  const auto base = synthetic_tree(6, 10);
  auto t = copy_tree(base, "nolabel");
  replace_line(t + "/image_class_labels.txt", 9, "");
  expect_problem(t, "image_class_labels.txt: no label for image id 9 (");
  t = copy_tree(base, "extra");
  std::ofstream(t + "/train_test_split.txt", std::ios::app) << "999 1\n";
  expect_problem(t, "train_test_split.txt:61: image id 999 is not in images.txt");
}

TEST(CubReader, MissingFilesAndFolders) {
  const auto base = synthetic_tree(6, 10);
  auto t = copy_tree(base, "noclasses");
  std::filesystem::remove(t + "/classes.txt");
  expect_problem(t, "classes.txt: missing or unreadable");
  expect_problem("/nonexistent_cub_root", "images.txt: missing or unreadable");
  // bounding_boxes.txt is optional.
  t = copy_tree(base, "noboxes");
  std::filesystem::remove(t + "/bounding_boxes.txt");
  const auto ds = read_cub(t);
  EXPECT_FALSE(ds.has_bboxes);
  EXPECT_FALSE(ds.images[0].bbox.has_value());
}

TEST(Split, StratifiedSeededAndNeverFromTest) {
  std::vector<int> labels;
  std::vector<bool> train;
  for (int c = 0; c < 5; ++c)
    for (int k = 0; k < 30; ++k) {
      labels.push_back(c);
      train.push_back(k % 2 == 0);  // 15 train per class
    }
  const auto s = make_split(labels, train, 0.2, 42);
  EXPECT_EQ(s.test.size(), 75u);
  EXPECT_EQ(s.val.size(), 15u);  // 3 per class
  EXPECT_EQ(s.train.size(), 60u);
  std::vector<int> val_per_class(5, 0);
  for (auto i : s.val) {
    EXPECT_TRUE(train[i]) << "validation must come from the train split";
    val_per_class[labels[i]]++;
  }
  for (int v : val_per_class) EXPECT_EQ(v, 3);
  std::set<int64_t> all(s.train.begin(), s.train.end());
  for (auto i : s.val) EXPECT_TRUE(all.insert(i).second) << "train and val overlap";
  EXPECT_EQ(make_split(labels, train, 0.2, 42).val, s.val);
  EXPECT_NE(make_split(labels, train, 0.2, 43).val, s.val);
  EXPECT_TRUE(make_split(labels, train, 0.0, 42).val.empty());
}
