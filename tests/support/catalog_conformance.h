// The behaviour every Catalog implementation must show: what the stages rely on. A backend
// instantiates the suite with a host that hands out fresh locations:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, CatalogConformance,
//                            ::testing::Values(CatalogBackend{"sqlite", [] { ... }}));
//
// A new catalog is done when it passes this suite.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "catalog/catalog.h"

namespace ferry::testing {

// Where a backend keeps the catalogs of one test (a temporary folder, a database), gone after.
class CatalogHost {
 public:
  virtual ~CatalogHost() = default;
  // A location that holds no migration yet, new on each call.
  virtual std::string NewLocation() = 0;
};

struct CatalogBackend {
  std::string name;
  std::function<std::unique_ptr<CatalogHost>()> start;
};

inline std::string PrintToString(const CatalogBackend& b) { return b.name; }

class CatalogConformance : public ::testing::TestWithParam<CatalogBackend> {
 protected:
  void SetUp() override { host_ = GetParam().start(); }
  // A new migration with a sample configuration; fails the test if it cannot be made.
  std::unique_ptr<catalog::Catalog> NewCatalog(std::string* location = nullptr);

  std::unique_ptr<CatalogHost> host_;
};

}  // namespace ferry::testing
