// Copies one item from a source store to a target store: read once, MD5 on the fly, single shot
// for small and middling files and parallel blocks for large ones, never overwriting what someone
// else wrote.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>

#include "base/encoding.h"
#include "base/md5_pair.h"
#include "base/status.h"
#include "base/task_pool.h"
#include "storage/store.h"
#include "transfer/buffer_pool.h"

namespace ferry::transfer {

struct UploadOptions {
  // Files up to this size are read into memory and sent as one write checked by its MD5.
  uint64_t single_shot_limit = 4ull << 20;
  // Larger files up to this size stream as one write, hashed on the way and checked against the
  // target's MD5 after: half the hashing of blocks and the service's cheapest path, but a crash
  // resends them whole. Larger files go in blocks sent in parallel and resume block by block.
  // (A migration's copies take it from EngineOptions::block_above.)
  uint64_t stream_limit = 256ull << 20;
  uint64_t block_size = 8ull << 20;  // grown for files that would need > 50,000 blocks
  int blocks_in_flight = 4;          // per file
  int torn_read_retries = 3;         // re-reads of a file that changed while read
  std::string tier;                  // "" for the target's default
  // The blobs' Content-Type: this one for all; or, if empty and guess_content_type, the one the
  // file's extension gives (GuessContentType); else the target's default.
  std::string content_type;
  bool guess_content_type = false;
  bool follow_links = false;  // read what a link points to
  // The migration's id, written as `ferry_migration` metadata on every blob beside the item's
  // write mark (UploadItem::mark). Empty: blobs are not marked, and none is recognised.
  std::string owner;
};

// The item as the catalog knows it.
struct UploadItem {
  std::string path;
  storage::Kind kind = storage::Kind::kFile;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
  std::string link_target;
  // The ETag ferry recorded when it last wrote this item: the new version replaces that blob
  // only if it is unchanged (If-Match). Empty: a new item, written only if no blob is there.
  std::string replace_etag;
  // With replace_etag: the MD5 of the version ferry wrote. Same content (only the mtime or mode
  // moved) means a metadata update, not a new upload (never with overwrite: the blob in the
  // target may hold anything).
  std::optional<Md5Digest> previous_md5;
  bool overwrite = false;  // write unconditionally (the operator's --overwrite)
  // This write's mark (ferry_write metadata, with UploadOptions::owner), and the mark of a write
  // of this item that an earlier run made and a crash left unrecorded: a blob in the way that
  // carries `earlier_mark` is that write, and is replaced. Empty: none.
  std::string mark;
  std::string earlier_mark;
};

enum class UploadOutcome {
  kCopied,    // written by this call
  kAdopted,   // already in the target with the same size and MD5 (e.g. written before a crash)
  kConflict,  // the target holds something else under this name; left untouched
  kVanished,  // gone from the source
  kChanging,  // kept changing while being read
  kFailed,    // an error; `error` says which
};

struct UploadResult {
  UploadOutcome outcome = UploadOutcome::kFailed;
  std::string etag;
  std::optional<Md5Digest> md5;
  // The source's size and mtime as copied (they may differ from the catalog's, if the file
  // changed after the scan but stayed still while read).
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  // and the change time and inode of that version, where known
  uint64_t inode = 0;
  std::string source_etag;   // an object source's ETag of the version copied
  std::string content_type;  // the Content-Type the blob was given ("": the target's default)
  uint64_t bytes_sent = 0;
  int blocks_reused = 0;
  bool metadata_only = false;  // same content: only the blob's metadata was updated
  Status error;
  std::string detail;  // for conflicts: what the target holds
  // For a conflict with a blob ferry itself wrote for this migration: that blob's ETag.
  std::string own_etag;
};

// The blob metadata ferry writes for an item, as AzCopy and BlobFuse read it (only modtime for
// an item without a mode: an object has no owner or permissions).
storage::Metadata PosixMetadata(const UploadItem& item, int64_t mtime_ns);

// The metadata keys that name the migration that wrote a blob, and the write.
inline constexpr const char* kOwnerMetadata = "ferry_migration";
inline constexpr const char* kWriteMetadata = "ferry_write";

// Whether `blob` is the write `mark` of the migration `owner` (neither empty).
bool IsOwnWrite(const storage::Metadata& blob, const std::string& owner, const std::string& mark);

// The id of block `index` of one version (size and mtime) of a file, holding `md5`, the MD5 of
// the block's bytes (which the target checks as it stages the block): equal length for all
// blocks (56 characters), and different for other bytes, so a staged block is reused only when
// it is proven to hold the file's current bytes there.
std::string BlockId(std::string_view path, uint64_t size, int64_t mtime_ns, uint64_t index,
                    const Md5Digest& md5);

// The block size for a file: options.block_size, or larger if needed to stay under the target's
// block count.
uint64_t BlockSizeFor(uint64_t file_size, uint64_t preferred, size_t max_blocks);

// The Content-Type a blob of `path` gets under `options`: options.content_type, else the
// source's own (`source_type`, an object's), else the guess from the extension if asked, else ""
// (the target's default).
std::string ContentTypeFor(const UploadOptions& options, const std::string& path,
                           std::string_view source_type = "");

// An object source's metadata as blob metadata: a name that is no C# identifier (as Azure
// requires; S3 allows '-' and '.') is carried as AzCopy does, rename_NAME with the value and
// rename_key_NAME with the original name, its other characters made '_'. Names ferry acts on
// (is_symlink, hdi_isfolder, permissions, posix_owner, posix_group, modtime, ferry_*) are
// renamed the same way, so no source can make a blob a link, a folder or a setuid file.
storage::Metadata CarriedMetadata(const storage::Metadata& source);

// How a file goes in blocks: their size (a whole number of MiB) and count. Code::kInvalidInput
// when even `max_blocks` blocks of `max_block_size` cannot hold it.
struct BlockPlan {
  uint64_t block_size = 0;
  uint64_t blocks = 0;
};
Result<BlockPlan> PlanBlocks(uint64_t file_size, uint64_t preferred, size_t max_blocks,
                             uint64_t max_block_size);

class Uploader {
 public:
  // `blocks` runs block uploads; `buffers` holds the bytes in flight.
  Uploader(storage::Store& source, storage::Store& target, UploadOptions options, TaskPool& blocks,
           BufferPool& buffers)
      : source_(source),
        target_(target),
        options_(std::move(options)),
        blocks_(blocks),
        buffers_(buffers) {}

  // Copies `item` to the same path in the target: a new item only if no blob is there
  // (If-None-Match: *), a changed one only over the blob ferry wrote (If-Match). Thread-safe.
  // Never throws: an exception becomes the item's failure (Code::kInternal).
  UploadResult Upload(const UploadItem& item);

  // Bytes sent so far by all uploads, for progress.
  uint64_t bytes_sent() const { return bytes_sent_.load(); }

 private:
  // Upload, once more over ferry's own earlier write if one is in the way.
  UploadResult UploadOwned(const UploadItem& item);
  UploadResult UploadOnce(const UploadItem& item);
  // The metadata of a blob for `item`: the source's own (CarriedMetadata), PosixMetadata and the
  // owner mark.
  storage::Metadata BlobMetadata(const UploadItem& item, int64_t mtime_ns,
                                 const storage::Metadata& source = {}) const;
  // The condition, metadata, tier and Content-Type of a file's blob, as of `before`.
  storage::WriteOptions FileWriteOptions(const UploadItem& item,
                                         const storage::Entry& before) const;
  UploadResult UploadFolder(const UploadItem& item);
  UploadResult UploadLink(const UploadItem& item);
  UploadResult UploadFile(const UploadItem& item);
  UploadResult UploadSmall(const UploadItem& item, const storage::Entry& before);
  UploadResult UploadLarge(const UploadItem& item, const storage::Entry& before);
  UploadResult UploadStreamed(const UploadItem& item, const storage::Entry& before);
  // What a streamed body read from the source; the body it returns reads into `stream`.
  struct Stream;
  http::Body StreamingBody(const UploadItem& item, const storage::Entry& before, Stream& stream);
  UploadResult UploadBlocks(const UploadItem& item, const storage::Entry& before);
  // Stages the blocks of `before` (but those `staged` already, by id and size), hashing into
  // `md5s` and naming them in `ids`; returns the first error (of the source or the target).
  Status StageBlocks(const UploadItem& item, const storage::Entry& before, uint64_t block_size,
                     const std::map<std::string, uint64_t>& staged, Md5Pair& md5s,
                     std::vector<std::string>& ids, UploadResult& result);
  // The MD5 of the version `before` of a source file, read without uploading it; nullopt if the
  // file changed while read.
  Result<std::optional<Md5Digest>> HashUnchanged(const std::string& path,
                                                 const storage::Entry& before);
  // Replaces only the metadata of ferry's blob, when the content is unchanged.
  UploadResult UpdateMetadata(const UploadItem& item, const storage::Entry& before,
                              const Md5Digest& md5);
  Result<storage::Entry> StatSource(const std::string& path);
  // After a conditional write failed: a create-only write adopts a blob with our size and
  // MD5; anything else is a conflict, described from what the target holds.
  UploadResult AdoptOrConflict(const UploadItem& item, const Status& refusal, uint64_t size,
                               const Md5Digest& md5, UploadResult result);

  storage::Store& source_;
  storage::Store& target_;
  UploadOptions options_;
  TaskPool& blocks_;
  BufferPool& buffers_;
  std::atomic<uint64_t> bytes_sent_{0};
};

}  // namespace ferry::transfer
