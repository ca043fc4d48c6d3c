// An in-memory Store with blob semantics (flat names, ETags, staged blocks), for engine tests.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "storage/store.h"

namespace ferry::storage {

// Thread-safe. Items whose metadata has hdi_isfolder=true list as folders and
// is_symlink=true as symlinks, as on a blob target.
class MemoryStore : public Store {
 public:
  std::string Describe() const override { return "memory store"; }
  Status CreateRoot() override { return Status::Ok(); }
  Result<std::unique_ptr<Lister>> List(std::string_view prefix, ListOptions options = {}) override;
  // By level, `level_page_size` results (entries and prefixes) a page (or ListOptions::page_size,
  // if fewer); the marker is the last name of the page before.
  Result<LevelPage> ListLevel(std::string_view prefix, std::string_view marker,
                              const ListOptions& options) override;
  size_t level_page_size = 5000;
  // Sub-prefixes its level listing leaves out (as some S3 servers' do).
  std::set<std::string> hidden_prefixes;
  // Whether List takes ListOptions::after (as S3 does).
  bool lists_after = false;
  bool ListsAfter() const override { return lists_after; }
  // Level pages served so far.
  std::atomic<int> level_pages{0};
  Result<Entry> Stat(std::string_view path) override;
  Status Read(std::string_view path, uint64_t offset, uint64_t length, http::Sink& sink) override;
  Result<WriteResult> Write(std::string_view path, const http::Body& body,
                            const WriteOptions& options) override;
  uint64_t MaxBlockSize() const override { return 64ull << 20; }
  size_t MaxBlocks() const override { return 50'000; }
  Status StageBlock(std::string_view path, std::string_view block_id, const http::Body& body,
                    const std::optional<Md5Digest>& md5) override;
  Result<WriteResult> Commit(std::string_view path, const std::vector<std::string>& block_ids,
                             const WriteOptions& options) override;
  Result<std::vector<StagedBlock>> ListStagedBlocks(std::string_view path) override;
  Result<WriteResult> SetMetadata(std::string_view path, const Metadata& metadata,
                                  const Condition& condition) override;
  Status SetTier(std::string_view path, std::string_view tier) override;
  Status Delete(std::string_view path, const Condition& condition) override;

 private:
  struct Object {
    std::string data;
    Metadata metadata;
    std::string etag;
    std::optional<Md5Digest> content_md5;
    std::string tier = "Hot";
    std::string content_type;
    int64_t mtime_ns = 0;
  };
  class MemoryLister;

  Status CheckCondition(std::string_view path, const Condition& condition) const;
  Result<WriteResult> Put(std::string_view path, std::string data, const WriteOptions& options);
  Entry ToEntry(const std::string& path, const Object& object) const;

  mutable std::mutex mu_;
  std::map<std::string, Object, std::less<>> objects_;
  std::map<std::string, std::map<std::string, std::string>, std::less<>> staged_;
  uint64_t next_etag_ = 1;
};

}  // namespace ferry::storage
