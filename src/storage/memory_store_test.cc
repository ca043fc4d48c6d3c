#include "storage/memory_store.h"

#include "support/store_conformance.h"

namespace ferry::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance,
                         ::testing::Values(StoreFactory{
                             "memory", [] { return std::make_unique<storage::MemoryStore>(); }}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ferry::testing
