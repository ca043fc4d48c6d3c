// A POSIX file tree (local disk, or an NFS/SMB mount) as a Store.
#pragma once

#include "storage/store.h"

namespace ferry::storage {

// Listing is a depth-first walk that holds one sorted directory per level, so memory grows with
// the depth and width of the tree, never with its total size. Folders are listed as items of
// their own, before their contents; symbolic links are reported, not followed.
//
// As a target: writes go to a temporary file in the destination folder, are fsync'ed, then
// renamed (or hard-linked, for create-only writes) into place, so a reader never sees a partial
// file. `modtime` and `permissions` metadata are applied to the file, and read back from it;
// other metadata is not kept, nor a Content-MD5 (StoresContentMd5 is false).
// Items with hdi_isfolder=true become folders and is_symlink=true become symbolic links. Staged
// blocks live under ROOT/.ferry-staging, which listings skip. Thread-safe.
//
// A symbolic link is followed (StatTarget, and reads of a path that is a link) only to what
// resolves inside the root: anything else is refused with Code::kRefused, "link leaves the
// source", so a link in a share to /root/.ssh/id_rsa is never read.
class LocalStore : public Store {
 public:
  // REQUIRES: `root` is an absolute path.
  explicit LocalStore(std::string root);

  const std::string& root() const { return root_; }

  std::string Describe() const override { return root_; }
  bool StoresContentMd5() const override { return false; }
  Status CreateRoot() override;
  Result<RootIdentity> Identify() override;
  Result<std::unique_ptr<Lister>> List(std::string_view prefix, ListOptions options = {}) override;
  // One folder's entries (its folders among them, and as prefixes), all in one page, stat'ed as
  // List does (many at once on a network file system).
  Result<LevelPage> ListLevel(std::string_view prefix, std::string_view marker,
                              const ListOptions& options) override;
  bool IsFolderTree() const override { return true; }
  Result<Entry> Stat(std::string_view path) override;
  Result<Entry> StatTarget(std::string_view path) override;
  Status Read(std::string_view path, uint64_t offset, uint64_t length, http::Sink& sink) override;
  Result<size_t> ReadInto(std::string_view path, uint64_t offset, char* buffer,
                          size_t length) override;
  Result<WriteResult> Write(std::string_view path, const http::Body& body,
                            const WriteOptions& options) override;
  uint64_t MaxBlockSize() const override { return 4000ull << 20; }
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

  // The name of the folder under the root that holds staged blocks.
  static constexpr std::string_view kStagingFolder = ".ferry-staging";

 private:
  class TreeLister;
  // The stats a listing keeps in flight (ListOptions::concurrency, or as the file system asks).
  int Concurrency(const ListOptions& options) const;

  std::string Absolute(std::string_view path) const;
  // Refuses (Code::kRefused, "link leaves the source") a `resolved` path outside the root.
  Status CheckInside(const std::string& resolved, const std::string& absolute) const;
  // Opens a file to read; a symbolic link is followed only to a file inside the root.
  Result<int> OpenForReading(const std::string& absolute) const;
  std::string StagingDir(std::string_view path) const;
  Result<WriteResult> Place(std::string_view path, const std::string& temp,
                            const WriteOptions& options);

  std::string root_;
};

// Fills `entry` from lstat of `absolute`; `relative` becomes entry.path.
Status StatLocal(const std::string& absolute, std::string relative, Entry& entry);

// Gives `entry` the metadata a blob written by ferry would carry, from what the file system
// keeps: `modtime` and `permissions` (Stat, and List with ListOptions::metadata).
void AddFileMetadata(Entry& entry);

}  // namespace ferry::storage
