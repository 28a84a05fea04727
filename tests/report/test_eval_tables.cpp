// finch eval's CSV tables (report/eval_tables.h).
#include <gtest/gtest.h>

#include "finch/core/error.h"
#include "finch/report/eval_tables.h"

namespace {

using finch::report::confusion_csv;
using finch::report::csv_field;
using finch::report::per_class_csv;

TEST(EvalTables, PerClassRowsInLabelOrder) {
  EXPECT_EQ(per_class_csv({"Laysan_Albatross", "Sooty_Albatross"}, {4, 0}, {3, 0}),
            "class,name,images,correct,accuracy\n"
            "0,Laysan_Albatross,4,3,0.7500\n"
            "1,Sooty_Albatross,0,0,0.0000\n");
}

TEST(EvalTables, ConfusionIsTrueByPredicted) {
  EXPECT_EQ(confusion_csv({"a", "b"}, {5, 1, 2, 7}),
            "true\\predicted,a,b\n"
            "a,5,1\n"
            "b,2,7\n");
}

// An ImageFolder class name may hold a comma or a quote: quoted, so the columns stay columns.
TEST(EvalTables, NamesAreQuotedWhereCsvNeedsIt) {
  EXPECT_EQ(csv_field("Herring_Gull"), "Herring_Gull");
  EXPECT_EQ(csv_field("Gull, Herring"), "\"Gull, Herring\"");
  EXPECT_EQ(csv_field("the \"true\" gull"), "\"the \"\"true\"\" gull\"");
  EXPECT_EQ(per_class_csv({"Gull, Herring"}, {2}, {1}), "class,name,images,correct,accuracy\n0,\"Gull, Herring\",2,1,0.5000\n");
  EXPECT_EQ(confusion_csv({"x,y", "z"}, {1, 0, 0, 1}), "true\\predicted,\"x,y\",z\n\"x,y\",1,0\nz,0,1\n");
}

TEST(EvalTables, SizesThatDoNotFitAreRefused) {
  EXPECT_THROW(per_class_csv({"a", "b"}, {1}, {1, 1}), finch::RuntimeError);
  EXPECT_THROW(confusion_csv({"a", "b"}, {1, 2, 3}), finch::RuntimeError);
}

}  // namespace
