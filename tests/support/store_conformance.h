// The behaviour every Store backend must show. A backend instantiates the suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance,
//                            ::testing::Values(StoreFactory{"memory", [] { ... }}));
//
// A new backend is done when it passes this suite.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "storage/store.h"

namespace ferry::testing {

struct StoreFactory {
  std::string name;
  // Returns an empty store (a fresh folder, container or prefix) each time it is called.
  std::function<std::unique_ptr<storage::Store>()> make;
  // Whether the backend keeps arbitrary metadata and MD5s (blob stores do; a folder does not).
  bool keeps_metadata = true;
};

inline std::string PrintToString(const StoreFactory& f) { return f.name; }

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().make(); }
  std::unique_ptr<storage::Store> store_;
};

// Reads the whole item at `path` from `store`; fails the test on error.
std::string ReadAllOf(storage::Store& store, const std::string& path);
// Lists every path under `prefix`, in the order the store gives them.
std::vector<std::string> ListPaths(storage::Store& store, const std::string& prefix = "");

}  // namespace ferry::testing
