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

// The read side every source backend must show (the stores ferry migrates from, read-only ones
// such as S3 included). The factory fills a fresh root with `objects` by whatever client suits
// the backend (a vendor's SDK where there is one) and returns a store reading it.
struct SourceObject {
  std::string path;
  std::string data;
  std::string content_type;  // "" for the backend's default
  storage::Metadata metadata;
};

struct SourceFactory {
  std::string name;
  std::function<std::unique_ptr<storage::Store>(const std::vector<SourceObject>& objects)> make;
  bool keeps_metadata = true;  // Content-Type and metadata carry (not a folder)
  bool reports_md5 = true;     // Stat gives an object's MD5 (not a folder)
  bool identifies = true;      // Identify tells an empty root
  // Lists in byte order, as S3 and Azure do. A server that does not (s3rver) is caught by
  // storage::InByteOrder, which ferry puts on every listing it merges.
  bool byte_order = true;
};

inline std::string PrintToString(const SourceFactory& f) { return f.name; }

class SourceConformance : public ::testing::TestWithParam<SourceFactory> {};

// Reads the whole item at `path` from `store`; fails the test on error.
std::string ReadAllOf(storage::Store& store, const std::string& path);
// Lists every path under `prefix` (only files' with `files_only`: a folder lists its folders
// too), in the order the store gives them.
std::vector<std::string> ListPaths(storage::Store& store, const std::string& prefix = "",
                                   bool files_only = false, storage::ListOptions options = {});

}  // namespace ferry::testing
