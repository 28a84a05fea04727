// GoogleTest main for tests run under mpiexec: every rank runs every test; a rank that fails
// returns non-zero, so mpiexec does too. Only rank 0 prints the gtest report.
#include <gtest/gtest.h>

#include "finch/distributed/world.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const auto& w = finch::distributed::init_world(&argc, &argv);
  if (w.rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int rc = RUN_ALL_TESTS();
  finch::distributed::finalize_world();
  return rc;
}
