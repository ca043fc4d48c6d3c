// One interface for every endpoint a migration reads from or writes to. Stages never know which
// backend they talk to. Paths are relative to the store's root (a folder, or a container plus
// prefix), use '/' as separator, and have no leading or trailing '/'.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/encoding.h"
#include "base/status.h"
#include "http/request.h"

namespace ferry::storage {

enum class Kind { kFile, kFolder, kSymlink, kSpecial };
std::string_view KindName(Kind kind);

// Blob metadata (name → ASCII value). Names are case-insensitive on Azure; ferry uses lower case.
using Metadata = std::map<std::string, std::string>;

// What a listing or a stat knows about one item. Fields a backend cannot know stay at their zero
// value (a blob store has no uid; a file system has no ETag).
struct Entry {
  std::string path;
  Kind kind = Kind::kFile;
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // last modification, Unix time in nanoseconds
  // A file system's change time and inode (0 elsewhere): together with size and mtime they tell
  // a file whose bytes were replaced with the old mtime put back (cp -p, rsync -a).
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;  // a file system's device (st_dev): a folder on another is a mount point
  uint32_t mode = 0;    // full st_mode, file type bits included
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string link_target;               // for kSymlink
  std::string etag;                      // opaque version tag, for conditional writes
  std::optional<Md5Digest> content_md5;  // as stored by the target, when it has one
  Metadata metadata;
  std::string tier;          // access tier, when the target has tiers
  std::string content_type;  // the media type the target serves it as, when it keeps one
};

// A streamed listing: entries arrive in ascending byte order of their path, a page at a time;
// memory does not grow with the size of the listing.
class Lister {
 public:
  virtual ~Lister() = default;
  // Fills `entry` with the next item and returns true, or returns false at the end.
  virtual Result<bool> Next(Entry& entry) = 0;
  // Leaves out the contents of the folder the last Next returned (an excluded folder need not be
  // walked). Listers that cannot skip (a flat blob listing) go on listing them; callers filter.
  virtual void SkipContents() {}
  // After Next returned an error that the listing can go on past: what that error leaves
  // unknown. "dir/" (with the slash) when a folder could not be listed: everything under it is
  // unknown, not absent; "dir/name" when one entry could not be read. Empty when the error ends
  // the listing (nothing after it can be trusted): the caller must stop.
  virtual std::string Unlisted() const { return ""; }
  // After a Next: whether the rest of the listing is in memory already (the last page has been
  // read). A listing that does not tell returns false.
  virtual bool FullyFetched() const { return false; }
};

// One page of the listing of one level of an object store, '/' being the delimiter: the items
// right under the level's prefix and its sub-prefixes ("dir/", each once), each in byte order,
// paths relative to the store's root.
struct LevelPage {
  std::vector<Entry> entries;
  std::vector<std::string> prefixes;
  std::string next;  // the marker of the next page; "" on the last
  // Entries that could not be read (a file system's): their path and why. What they hold, if
  // they are folders, is unknown.
  std::vector<std::pair<std::string, std::string>> unlisted = {};
};

// What makes a store's root the one a migration began with. A file system tells its type, the
// root folder's inode and whether the root is a mount point, so an unmounted share (an empty
// mount point folder on another file system) is told from the share.
struct RootIdentity {
  std::string filesystem;  // e.g. "nfs", "cifs", "ext4", or the type's number in hex
  uint64_t root_inode = 0;
  bool mount_point = false;
  bool empty = false;  // the root holds nothing at all
};

struct ListOptions {
  // Each entry's metadata (and the kind it gives a blob). Without it a blob listing is smaller
  // and the service answers it faster; entries then have no metadata and blobs list as files.
  bool metadata = true;
  // How many metadata calls (folder reads, stats, listing requests) a listing keeps in flight;
  // 0 lets the store choose (a local folder: kNetworkListConcurrency on a network or FUSE file
  // system, else 1; an object store: 1, and above 1 its listing is split by folder across that
  // many requests, see SplitListing). The entries and their order do not depend on it.
  int concurrency = 0;
  // With a concurrency above 1, a local folder's stats go through io_uring where the kernel
  // allows it (else a thread pool). Tests turn it off to cover the pool.
  bool io_uring = true;
  // Only the paths after this one (stores whose ListsAfter() is true).
  std::string after = {};
  // At most this many results (entries and prefixes) a page of an object store's ListLevel: 0,
  // the store's own page (Azure 5,000, S3 1,000); a folder tree's is its folder, whole. A plan
  // reads a level's first page only to learn whether it is more than one; a short page costs
  // the service less.
  int page_size = 0;
};
inline constexpr int kNetworkListConcurrency = 32;

// A precondition on a write or delete.
struct Condition {
  enum class Type { kNone, kIfNoneExists, kIfMatch };
  Type type = Type::kNone;
  std::string etag;  // for kIfMatch

  static Condition None() { return {}; }
  static Condition IfNoneExists() { return {Type::kIfNoneExists, {}}; }
  static Condition IfMatch(std::string etag) { return {Type::kIfMatch, std::move(etag)}; }
};

struct WriteOptions {
  Condition condition;
  Metadata metadata;
  // The MD5 of the whole object, stored with it (and for single-shot writes checked in transit).
  std::optional<Md5Digest> content_md5;
  std::string tier;          // empty: the target's default
  std::string content_type;  // empty: the target's default (application/octet-stream)
};

struct WriteResult {
  std::string etag;
  // For a single-shot write: the MD5 of the bytes as the target received them, when it reports
  // one (Azure computes it for every Put Blob), so a writer that streamed the body without
  // knowing its MD5 beforehand can check it after.
  std::optional<Md5Digest> content_md5 = std::nullopt;
};

// A block of a staged write, as the target holds it before commit.
struct StagedBlock {
  std::string id;  // the caller's block id (raw, not base64)
  uint64_t size = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // A description of the endpoint for messages (credentials redacted).
  virtual std::string Describe() const = 0;
  // How ferry signs in to it ("AZURE_STORAGE_KEY", "Entra ID: service principal ..."); empty
  // where nothing is needed (a local folder).
  virtual std::string Credential() const { return ""; }

  // Requests sent again after a retriable failure, since the store was opened, by cause ("HTTP
  // 503 ServerBusy", "network: ..."); empty for stores that send no requests.
  virtual std::map<std::string, uint64_t> RetriesByCause() const { return {}; }

  // Whether entries carry the Content-MD5 of what was written (a blob store does; a file system
  // does not, and only re-reading its bytes can check them).
  virtual bool StoresContentMd5() const { return true; }

  // Why this store cannot hold an item at `path` (too long, too many parts, characters it
  // rejects or alters), or nullopt when it can.
  virtual std::optional<std::string> UnstorableReason(std::string_view path) const {
    (void)path;
    return std::nullopt;
  }

  // Creates the store's root (folder, container) when it is missing, so writes can follow.
  virtual Status CreateRoot() = 0;

  // The identity of the root as it is now (see RootIdentity). Stores without one return a
  // default RootIdentity, which compares equal to itself.
  virtual Result<RootIdentity> Identify() { return RootIdentity{}; }
  // Whether a listing tells folders and links from files only with ListOptions::metadata (blob
  // containers: hdi_isfolder, is_symlink). A source's listing asks for it then.
  virtual bool KindsNeedMetadata() const { return false; }

  // Lists every item whose path starts with `prefix` (a plain string prefix, "" for all).
  virtual Result<std::unique_ptr<Lister>> List(std::string_view prefix,
                                               ListOptions options = {}) = 0;

  // Whether List takes ListOptions::after (a listing that starts after a given path).
  virtual bool ListsAfter() const { return false; }
  // Whether the store is a tree of folders that ListLevel lists one at a time (a file system),
  // so that many processes can share the folders of one listing.
  virtual bool IsFolderTree() const { return false; }
  // One page of the level under `prefix` ("" or ending in '/'), from `marker` ("" for the
  // first); Code::kUnsupported where the store cannot list by level. Of `options`: metadata,
  // and for a folder tree the stats in flight within the folder (concurrency, io_uring).
  virtual Result<LevelPage> ListLevel(std::string_view prefix, std::string_view marker,
                                      const ListOptions& options);

  // Returns the item at `path`, or Code::kNotFound.
  virtual Result<Entry> Stat(std::string_view path) = 0;

  // Like Stat, but for a symbolic link returns what the link points to (under the link's path).
  // Stores without links return Stat.
  virtual Result<Entry> StatTarget(std::string_view path) { return Stat(path); }

  // Streams `length` bytes from `offset` into `sink` (fewer if the item ends first). `length` of
  // UINT64_MAX reads to the end.
  virtual Status Read(std::string_view path, uint64_t offset, uint64_t length,
                      http::Sink& sink) = 0;

  // Reads up to `length` bytes from `offset` into `buffer`; returns how many, fewer only where the
  // item ends. The default goes through Read; a file system reads straight into the buffer.
  virtual Result<size_t> ReadInto(std::string_view path, uint64_t offset, char* buffer,
                                  size_t length);

  // Writes the whole item in one operation. The condition decides what may already be there:
  // kIfNoneExists fails with Code::kAlreadyExists when something is; kIfMatch fails with
  // Code::kPreconditionFailed when the item's ETag differs or it is missing.
  virtual Result<WriteResult> Write(std::string_view path, const http::Body& body,
                                    const WriteOptions& options) = 0;

  // Largest block StageBlock accepts, and most blocks one item may have.
  virtual uint64_t MaxBlockSize() const = 0;
  virtual size_t MaxBlocks() const = 0;
  // Largest item one Write may send (Azure's Put Blob: 5,000 MiB); larger ones go in blocks.
  virtual uint64_t MaxSingleWrite() const { return UINT64_MAX; }
  // Largest item the target can hold: MaxBlocks() blocks of MaxBlockSize().
  uint64_t MaxItemSize() const { return MaxBlockSize() * MaxBlocks(); }

  // Stages one block of a later Commit. Block ids of one item must all have the same length.
  // `md5` of the block, when given, is checked by the target in transit.
  virtual Status StageBlock(std::string_view path, std::string_view block_id,
                            const http::Body& body, const std::optional<Md5Digest>& md5) = 0;

  // Makes the item the concatenation of the staged blocks in `block_ids` order, under the same
  // conditions as Write. Staged blocks not listed are discarded.
  virtual Result<WriteResult> Commit(std::string_view path,
                                     const std::vector<std::string>& block_ids,
                                     const WriteOptions& options) = 0;

  // The blocks staged for `path` and not yet committed (to resume a large upload).
  virtual Result<std::vector<StagedBlock>> ListStagedBlocks(std::string_view path) = 0;

  // Replaces the item's metadata. Returns the new ETag.
  virtual Result<WriteResult> SetMetadata(std::string_view path, const Metadata& metadata,
                                          const Condition& condition) = 0;

  // Moves the item to an access tier (Hot, Cool, Cold, Archive); kUnsupported where there are
  // no tiers.
  virtual Status SetTier(std::string_view path, std::string_view tier) = 0;

  // Deletes the item; Code::kNotFound when it is not there.
  virtual Status Delete(std::string_view path, const Condition& condition) = 0;
};

// Reads all of `body` into a string (for small bodies and in-memory stores).
Result<std::string> ReadAll(const http::Body& body);

// The MD5 of the bytes of the item at `path`, read from `store` now.
Result<Md5Digest> ReadMd5(Store& store, std::string_view path);

// The names ferry's probes take (".ferry-probe-<random>"): never an item of a migration.
inline constexpr std::string_view kProbePrefix = ".ferry-probe-";

struct ProbeReport {
  double write_ms = 0, read_ms = 0, delete_ms = 0;
};

// Proves `store` writable: writes `bytes` of random data under a probe name (create-only, with
// its MD5), reads it back and compares, and deletes it. The error says which step failed
// (Code::kInternal if the bytes read back differ).
Result<ProbeReport> ProbeWritable(Store& store, size_t bytes = 4096);

// The kind a blob's metadata gives it: hdi_isfolder=true → folder, is_symlink=true → symlink.
Kind KindFromMetadata(const Metadata& metadata);

// `inner`, checked to keep the Lister's promise: each path after the one before in byte order.
// A listing that breaks it (a service that sorts otherwise) ends with Code::kRefused, since a
// merge with the catalog would take the items it skipped past for gone.
std::unique_ptr<Lister> InByteOrder(std::unique_ptr<Lister> inner, std::string what);

// The identity of an object store's root: `kind` ("s3", "azure-blob") and whether anything is
// under it (one listing page, without metadata).
Result<RootIdentity> ObjectStoreIdentity(Store& store, std::string kind);

// Joins a prefix and a relative path with exactly one '/'.
std::string JoinPath(std::string_view prefix, std::string_view path);

}  // namespace ferry::storage
