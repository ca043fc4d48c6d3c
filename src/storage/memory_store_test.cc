#include "storage/memory_store.h"

#include "support/store_conformance.h"

namespace ferry::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance,
                         ::testing::Values(StoreFactory{
                             "memory", [] { return std::make_unique<storage::MemoryStore>(); }}),
                         [](const auto& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Memory, SourceConformance,
    ::testing::Values(SourceFactory{
        "memory",
        [](const std::vector<SourceObject>& objects) {
          auto store = std::make_unique<storage::MemoryStore>();
          for (const auto& o : objects) {
            storage::WriteOptions options;
            options.content_md5 = Md5::Of(o.data);
            options.content_type = o.content_type;
            options.metadata = o.metadata;
            EXPECT_TRUE(store->Write(o.path, http::Body::FromString(o.data), options).ok());
          }
          return store;
        },
        /*keeps_metadata=*/true, /*reports_md5=*/true, /*identifies=*/false}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ferry::testing
