#include "transfer/upload.h"

#include <fmt/format.h>

#include <deque>
#include <future>
#include <map>
#include <memory>

#include "base/md5_pair.h"
#include "base/mime.h"

namespace ferry::transfer {

using storage::Condition;
using storage::Entry;
using storage::Kind;
using storage::WriteOptions;

namespace {

bool SameVersion(const Entry& a, const Entry& b) {
  return a.size == b.size && a.mtime_ns == b.mtime_ns && a.ctime_ns == b.ctime_ns &&
         a.inode == b.inode && a.etag == b.etag;
}

// The bytes read are not the version the source vouches for (an object's MD5).
Status NotTheSourcesBytes(const std::string& path, const Md5Digest& read,
                          const Md5Digest& expected) {
  return Status(Code::kTransient,
                fmt::format("'{}': the bytes read have MD5 {}, not the {} the source gives for "
                            "them; nothing was written",
                            path, Md5Hex(read), Md5Hex(expected)));
}

UploadResult Failed(Status error) {
  UploadResult r;
  r.outcome = UploadOutcome::kFailed;
  r.error = std::move(error);
  return r;
}

// The file changed while read: the caller reads it again.
UploadResult Changing() {
  UploadResult r;
  r.outcome = UploadOutcome::kChanging;
  return r;
}

UploadResult FromSourceError(const Status& st) {
  UploadResult r = Failed(st);
  if (st.code() == Code::kNotFound) r.outcome = UploadOutcome::kVanished;
  return r;
}

// [offset, offset + length) of `path`, read into a buffer from `pool` (waiting for room).
Result<std::shared_ptr<char[]>> ReadRange(storage::Store& store, BufferPool& pool,
                                          const std::string& path, uint64_t offset, size_t length) {
  std::shared_ptr<char[]> buffer = pool.Acquire(length);
  Result<size_t> got = store.ReadInto(path, offset, buffer.get(), length);
  if (!got.ok()) return got.status();
  if (*got != length) {
    return Status(Code::kIo, fmt::format("'{}' is shorter than expected (changing?)", path));
  }
  return buffer;
}

Condition WriteCondition(const transfer::UploadItem& item) {
  if (item.overwrite) return Condition::None();
  if (!item.replace_etag.empty()) return Condition::IfMatch(item.replace_etag);
  return Condition::IfNoneExists();
}

// A conditional write that did not happen because of what is in the target.
bool Refused(const Status& st) {
  return st.code() == Code::kAlreadyExists || st.code() == Code::kPreconditionFailed;
}

}  // namespace

storage::Metadata PosixMetadata(const UploadItem& item, int64_t mtime_ns) {
  if (item.mode == 0) return {{"modtime", std::to_string(mtime_ns)}};  // an object: no owner
  return {{"modtime", std::to_string(mtime_ns)},
          {"permissions", std::to_string(item.mode)},
          {"posix_owner", std::to_string(item.uid)},
          {"posix_group", std::to_string(item.gid)}};
}

storage::Metadata CarriedMetadata(const storage::Metadata& source) {
  auto identifier = [](std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
  };
  // Names that ferry and later readers act on (a link, a folder, a mode or owner, a time, ferry's
  // own mark): from a source they are words, never instructions. Azure ignores their case.
  auto reserved = [](std::string_view name) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return lower == "is_symlink" || lower == "hdi_isfolder" || lower == "permissions" ||
           lower == "posix_owner" || lower == "posix_group" || lower == "modtime" ||
           lower.starts_with("ferry_");
  };
  storage::Metadata carried;
  for (const auto& [name, value] : source) {
    if (identifier(name) && !reserved(name)) {
      carried[name] = value;
      continue;
    }
    std::string renamed = name;
    for (char& c : renamed) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
    }
    carried["rename_" + renamed] = value;
    carried["rename_key_" + renamed] = name;
  }
  return carried;
}

std::string BlockId(std::string_view path, uint64_t size, int64_t mtime_ns, uint64_t index,
                    const Md5Digest& md5) {
  std::string version = fmt::format("{}\n{}\n{}", path, size, mtime_ns);
  return fmt::format("{}-{:06d}-{}", Md5Hex(Md5::Of(version)).substr(0, 16), index, Md5Hex(md5));
}

uint64_t BlockSizeFor(uint64_t file_size, uint64_t preferred, size_t max_blocks) {
  uint64_t needed = (file_size + max_blocks - 1) / max_blocks;
  uint64_t size = std::max(preferred, needed);
  constexpr uint64_t kMiB = 1ull << 20;
  return (size + kMiB - 1) / kMiB * kMiB;
}

std::string ContentTypeFor(const UploadOptions& options, const std::string& path,
                           std::string_view source_type) {
  if (!options.content_type.empty()) return options.content_type;
  if (!source_type.empty()) return std::string(source_type);
  return options.guess_content_type ? std::string(GuessContentType(path)) : std::string();
}

Result<BlockPlan> PlanBlocks(uint64_t file_size, uint64_t preferred, size_t max_blocks,
                             uint64_t max_block_size) {
  uint64_t block_size = std::min(BlockSizeFor(file_size, preferred, max_blocks), max_block_size);
  uint64_t blocks = block_size == 0 ? 0 : (file_size + block_size - 1) / block_size;
  if (blocks > max_blocks) {
    return Status(Code::kInvalidInput,
                  fmt::format("{} bytes is more than the target can hold in one item ({} blocks "
                              "of {} MiB)",
                              file_size, max_blocks, max_block_size >> 20));
  }
  return BlockPlan{block_size, blocks};
}

Result<Entry> Uploader::StatSource(const std::string& path) {
  return options_.follow_links ? source_.StatTarget(path) : source_.Stat(path);
}

bool IsOwnWrite(const storage::Metadata& blob, const std::string& owner, const std::string& mark) {
  if (owner.empty() || mark.empty()) return false;
  auto o = blob.find(kOwnerMetadata);
  auto w = blob.find(kWriteMetadata);
  return o != blob.end() && o->second == owner && w != blob.end() && w->second == mark;
}

storage::Metadata Uploader::BlobMetadata(const UploadItem& item, int64_t mtime_ns,
                                         const storage::Metadata& source) const {
  // An object's metadata is its owner's and carries over; a file's (mode != 0) is what its stat
  // says, which PosixMetadata states itself.
  storage::Metadata metadata = item.mode == 0 ? CarriedMetadata(source) : storage::Metadata{};
  for (auto& [name, value] : PosixMetadata(item, mtime_ns)) {
    metadata[name] = value;  // ferry's own names win over the source's
  }
  if (!options_.owner.empty() && !item.mark.empty()) {
    metadata[kOwnerMetadata] = options_.owner;
    metadata[kWriteMetadata] = item.mark;
  }
  return metadata;
}

UploadResult Uploader::Upload(const UploadItem& item) {
  // Whatever one item throws is that item's failure, never the end of the process.
  try {
    return UploadOwned(item);
  } catch (const std::exception& e) {
    return Failed(Status(Code::kInternal, fmt::format("internal error: {}", e.what())));
  } catch (...) {
    return Failed(Status(Code::kInternal, "internal error"));
  }
}

UploadResult Uploader::UploadOwned(const UploadItem& item) {
  UploadResult result = UploadOnce(item);
  if (result.outcome == UploadOutcome::kConflict && !result.own_etag.empty()) {
    // ferry's own earlier write of this item (a crash came before its record): replaced, if it
    // is still that blob.
    UploadItem again = item;
    again.replace_etag = result.own_etag;
    again.previous_md5.reset();
    again.earlier_mark.clear();
    result = UploadOnce(again);
  }
  return result;
}

UploadResult Uploader::UploadOnce(const UploadItem& item) {
  switch (item.kind) {
    case Kind::kFolder:
      return UploadFolder(item);
    case Kind::kSymlink:
      return UploadLink(item);
    case Kind::kFile:
      return UploadFile(item);
    case Kind::kSpecial:
      break;
  }
  return Failed(Status(Code::kInvalidInput, "special files are not copied"));
}

UploadResult Uploader::AdoptOrConflict(const UploadItem& item, const Status& refusal, uint64_t size,
                                       const Md5Digest& md5, UploadResult result) {
  Result<Entry> there = target_.Stat(item.path);
  if (!there.ok() && there.status().code() != Code::kNotFound) return Failed(there.status());
  bool create_only = item.replace_etag.empty();
  bool same_bytes = there.ok() && there->size == size && there->content_md5 == md5;
  // A replacement refused because the blob already holds this very version, bytes and modtime:
  // ferry's own write from a run that crashed before it could record it.
  bool own_replacement = same_bytes && !create_only &&
                         refusal.code() == Code::kPreconditionFailed &&
                         there->metadata.contains("modtime") &&
                         there->metadata.at("modtime") == std::to_string(result.mtime_ns);
  if ((same_bytes && create_only && refusal.code() == Code::kAlreadyExists) || own_replacement) {
    result.outcome = UploadOutcome::kAdopted;
    result.etag = there->etag;
    return result;
  }
  if (!there.ok() && create_only) {
    return Failed(Status(Code::kTransient, "the target blob vanished during the write; retry"));
  }
  result.outcome = UploadOutcome::kConflict;
  if (there.ok() && there->etag != item.replace_etag &&
      IsOwnWrite(there->metadata, options_.owner, item.earlier_mark)) {
    result.own_etag = there->etag;
  }
  if (!there.ok()) {
    result.detail = "the blob ferry wrote was deleted from the target by someone else";
  } else {
    result.detail = fmt::format(
        "{} (target: size {}, MD5 {}, ETag {}, modified {}s after the epoch; source: size {})",
        create_only ? "the target already holds a different blob here"
                    : "the blob changed in the target since ferry wrote it",
        there->size, there->content_md5 ? Md5Hex(*there->content_md5) : "none", there->etag,
        there->mtime_ns / 1'000'000'000, size);
  }
  return result;
}

UploadResult Uploader::UploadFolder(const UploadItem& item) {
  WriteOptions options;
  options.condition = WriteCondition(item);
  options.metadata = BlobMetadata(item, item.mtime_ns);
  options.metadata["hdi_isfolder"] = "true";
  options.tier = options_.tier;
  Result<storage::WriteResult> written = target_.Write(item.path, http::Body::Empty(), options);
  UploadResult result;
  result.mtime_ns = item.mtime_ns;
  if (written.ok()) {
    result.outcome = UploadOutcome::kCopied;
    result.etag = written->etag;
    return result;
  }
  if (!Refused(written.status())) return Failed(written.status());
  Result<Entry> there = target_.Stat(item.path);
  if (there.ok() && there->kind == Kind::kFolder && item.replace_etag.empty()) {
    result.outcome = UploadOutcome::kAdopted;
    result.etag = there->etag;
    return result;
  }
  result.outcome = UploadOutcome::kConflict;
  result.detail = "the target already holds a blob that is not a folder marker here";
  return result;
}

UploadResult Uploader::UploadLink(const UploadItem& item) {
  Result<Entry> now = source_.Stat(item.path);
  if (!now.ok()) return FromSourceError(now.status());
  if (now->kind != Kind::kSymlink) {
    UploadResult r = Failed(Status(Code::kIo, "no longer a symbolic link"));
    r.outcome = UploadOutcome::kChanging;
    return r;
  }
  WriteOptions options;
  options.condition = WriteCondition(item);
  options.metadata = BlobMetadata(item, now->mtime_ns);
  options.metadata["is_symlink"] = "true";
  options.tier = options_.tier;
  Md5Digest md5 = Md5::Of(now->link_target);
  options.content_md5 = md5;
  UploadResult result;
  result.md5 = md5;
  result.size = now->link_target.size();
  result.mtime_ns = now->mtime_ns;
  result.ctime_ns = now->ctime_ns;
  result.inode = now->inode;
  Result<storage::WriteResult> written =
      target_.Write(item.path, http::Body::FromString(now->link_target), options);
  if (written.ok()) {
    result.outcome = UploadOutcome::kCopied;
    result.etag = written->etag;
    result.bytes_sent = result.size;
    return result;
  }
  if (!Refused(written.status())) return Failed(written.status());
  return AdoptOrConflict(item, written.status(), result.size, md5, result);
}

WriteOptions Uploader::FileWriteOptions(const UploadItem& item, const Entry& before) const {
  WriteOptions options;
  options.condition = WriteCondition(item);
  options.metadata = BlobMetadata(item, before.mtime_ns, before.metadata);
  options.tier = options_.tier;
  options.content_type = ContentTypeFor(options_, item.path, before.content_type);
  return options;
}

UploadResult Uploader::UploadFile(const UploadItem& item) {
  UploadResult last;
  for (int attempt = 0; attempt <= options_.torn_read_retries; ++attempt) {
    Result<Entry> before = StatSource(item.path);
    if (!before.ok()) return FromSourceError(before.status());
    if (before->kind != Kind::kFile) {
      UploadResult r = Failed(Status(Code::kIo, "no longer a regular file"));
      r.outcome = UploadOutcome::kChanging;
      return r;
    }
    last = before->size <= options_.single_shot_limit ? UploadSmall(item, *before)
                                                      : UploadLarge(item, *before);
    last.ctime_ns = before->ctime_ns;
    last.inode = before->inode;
    last.source_etag = before->etag;
    last.content_type = ContentTypeFor(options_, item.path, before->content_type);
    if (last.outcome != UploadOutcome::kChanging) return last;
  }
  last.error = Status(Code::kIo, fmt::format("kept changing while read ({} attempts)",
                                             options_.torn_read_retries + 1));
  return last;
}

UploadResult Uploader::UploadSmall(const UploadItem& item, const Entry& before) {
  Result<std::shared_ptr<char[]>> data =
      ReadRange(source_, buffers_, item.path, 0, size_t(before.size));
  Result<Entry> after = StatSource(item.path);
  if (!after.ok()) return FromSourceError(after.status());
  if (!SameVersion(before, *after)) return Changing();
  if (!data.ok()) return FromSourceError(data.status());

  Md5Digest md5 = Md5::Of(std::string_view(data->get(), size_t(before.size)));
  if (before.content_md5 && *before.content_md5 != md5) {
    return Failed(NotTheSourcesBytes(item.path, md5, *before.content_md5));
  }
  if (!item.replace_etag.empty() && !item.overwrite && item.previous_md5 == md5) {
    return UpdateMetadata(item, before, md5);
  }
  WriteOptions options = FileWriteOptions(item, before);
  options.content_md5 = md5;
  UploadResult result;
  result.md5 = md5;
  result.size = before.size;
  result.mtime_ns = before.mtime_ns;
  Result<storage::WriteResult> written =
      target_.Write(item.path, http::Body::FromBuffer(*data, size_t(before.size)), options);
  if (written.ok()) {
    result.outcome = UploadOutcome::kCopied;
    result.etag = written->etag;
    result.bytes_sent = before.size;
    bytes_sent_ += before.size;
    return result;
  }
  if (!Refused(written.status())) return Failed(written.status());
  return AdoptOrConflict(item, written.status(), before.size, md5, result);
}

UploadResult Uploader::UpdateMetadata(const UploadItem& item, const Entry& before,
                                      const Md5Digest& md5) {
  UploadResult result;
  result.md5 = md5;
  result.size = before.size;
  result.mtime_ns = before.mtime_ns;
  result.metadata_only = true;
  UploadItem now = item;
  now.mode = before.mode;
  now.uid = before.uid;
  now.gid = before.gid;
  storage::Metadata metadata = BlobMetadata(now, before.mtime_ns, before.metadata);
  Result<storage::WriteResult> updated =
      target_.SetMetadata(item.path, metadata, WriteCondition(item));
  if (updated.ok()) {
    result.outcome = UploadOutcome::kCopied;
    result.etag = updated->etag;
    return result;
  }
  if (!Refused(updated.status()) && updated.status().code() != Code::kNotFound) {
    return Failed(updated.status());
  }
  return AdoptOrConflict(item, Status(Code::kPreconditionFailed, "changed"), before.size, md5,
                         result);
}

Result<std::optional<Md5Digest>> Uploader::HashUnchanged(const std::string& path,
                                                         const Entry& before) {
  Md5 md5;
  http::Sink sink{[&](const char* p, size_t n) {
                    md5.Update(p, n);
                    return true;
                  },
                  [&] { md5 = Md5(); }};
  FERRY_RETURN_IF_ERROR(source_.Read(path, 0, before.size, sink));
  Result<Entry> after = StatSource(path);
  if (!after.ok()) return after.status();
  if (!SameVersion(before, *after)) return std::optional<Md5Digest>();
  return std::optional<Md5Digest>(md5.Finish());
}

UploadResult Uploader::UploadLarge(const UploadItem& item, const Entry& before) {
  UploadResult result;
  result.size = before.size;
  result.mtime_ns = before.mtime_ns;

  // A blob in the way (or not the one to replace): read our file for its MD5 and decide
  // between adopting and a conflict without uploading anything.
  Result<Entry> there = target_.Stat(item.path);
  if (!there.ok() && there.status().code() != Code::kNotFound) return Failed(there.status());
  Status refusal;
  if (!item.overwrite) {
    if (item.replace_etag.empty() && there.ok()) {
      refusal = Status(Code::kAlreadyExists, "a blob is there");
    } else if (!item.replace_etag.empty() && (!there.ok() || there->etag != item.replace_etag)) {
      refusal = Status(Code::kPreconditionFailed, "the blob changed");
    }
  }
  bool occupied = !refusal.ok();
  // Same size and maybe the same bytes (a touch): hash first, upload only if they differ.
  bool maybe_touched = !item.replace_etag.empty() && !item.overwrite && item.previous_md5 &&
                       there.ok() && there->size == before.size;
  if (occupied || maybe_touched) {
    Result<std::optional<Md5Digest>> md5 = HashUnchanged(item.path, before);
    if (!md5.ok()) return FromSourceError(md5.status());
    if (!*md5) return Changing();
    result.md5 = **md5;
    if (occupied) return AdoptOrConflict(item, refusal, before.size, **md5, result);
    if (**md5 == *item.previous_md5) return UpdateMetadata(item, before, **md5);
  }
  // One Put Blob up to the limit (and the service's), blocks beyond.
  return before.size <= std::min(options_.stream_limit, target_.MaxSingleWrite())
             ? UploadStreamed(item, before)
             : UploadBlocks(item, before);
}

// The body reads the file as it is sent, hashing on the way. Before the last bytes go, the file
// must still be the version it started as; if not, the request is abandoned and the target never
// creates the blob.
struct Uploader::Stream {
  Md5 md5;
  std::optional<Md5Digest> digest;  // once the last byte is hashed
  uint64_t hashed = 0;
  Status source_error;  // the source failed or changed: the write was abandoned for it
  bool changed = false;
};

http::Body Uploader::StreamingBody(const UploadItem& item, const Entry& before, Stream& stream) {
  const uint64_t size = before.size;
  http::Body body;
  body.size = size;
  body.read = [this, &item, &before, &stream, size](uint64_t offset, char* buf,
                                                    size_t len) -> Result<size_t> {
    if (offset != stream.hashed) {
      if (offset != 0) return Status(Code::kInternal, "the request body was re-read out of order");
      bytes_sent_ -= stream.hashed;  // a retry sends it again from the start
      stream = Stream();
    }
    Result<size_t> got = source_.ReadInto(item.path, offset, buf, len);
    if (got.ok() && *got == 0) {
      stream.changed = true;
      got = Status(Code::kIo, fmt::format("'{}' shrank while read", item.path));
    } else if (got.ok() && offset + *got == size) {
      Result<Entry> now = StatSource(item.path);
      if (!now.ok()) {
        got = now.status();
      } else if (!SameVersion(before, *now)) {
        stream.changed = true;
        got = Status(Code::kIo, fmt::format("'{}' changed while read", item.path));
      }
    }
    if (!got.ok()) {
      stream.source_error = got.status();
      return got.status();
    }
    stream.md5.Update(buf, *got);
    if (offset + *got == size) {  // before the last bytes go: are they the source's?
      stream.digest = stream.md5.Finish();
      if (before.content_md5 && *before.content_md5 != *stream.digest) {
        stream.source_error = NotTheSourcesBytes(item.path, *stream.digest, *before.content_md5);
        return stream.source_error;
      }
    }
    stream.hashed += *got;
    bytes_sent_ += *got;
    return got;
  };

  return body;
}

UploadResult Uploader::UploadStreamed(const UploadItem& item, const Entry& before) {
  const uint64_t size = before.size;
  Stream stream;
  http::Body body = StreamingBody(item, before, stream);
  UploadResult result;
  result.size = size;
  result.mtime_ns = before.mtime_ns;
  WriteOptions options = FileWriteOptions(item, before);
  // A blob whose MD5 (as the target computed it) is not ours took damage in transit: it is
  // written again over itself, and removed if that keeps happening.
  constexpr int kWrites = 3;
  std::string damaged_etag;
  for (int write = 0; write < kWrites; ++write) {
    Result<storage::WriteResult> written = target_.Write(item.path, body, options);
    if (stream.changed) return Changing();
    if (!stream.source_error.ok()) return FromSourceError(stream.source_error);
    bool complete = stream.hashed == size;
    std::optional<Md5Digest> md5;
    if (complete) md5 = stream.digest;
    if (!written.ok()) {
      if (!Refused(written.status()) || !damaged_etag.empty()) return Failed(written.status());
      if (!complete) {  // refused before the whole body went: hash the rest for the decision
        Result<std::optional<Md5Digest>> hashed = HashUnchanged(item.path, before);
        if (!hashed.ok()) return FromSourceError(hashed.status());
        if (!*hashed) return Changing();
        md5 = *hashed;
      }
      result.md5 = md5;
      return AdoptOrConflict(item, written.status(), size, *md5, result);
    }
    if (!complete) {
      return Failed(
          Status(Code::kInternal, fmt::format("'{}': the write ended after {} of {} bytes",
                                              item.path, stream.hashed, size)));
    }
    result.md5 = md5;
    if (!written->content_md5 || *written->content_md5 == *md5) {
      result.outcome = UploadOutcome::kCopied;
      result.etag = written->etag;
      result.bytes_sent += size;
      return result;
    }
    result.bytes_sent += size;
    damaged_etag = written->etag;
    options.condition = Condition::IfMatch(damaged_etag);
  }
  Status removed = target_.Delete(item.path, Condition::IfMatch(damaged_etag));
  return Failed(
      Status(Code::kTransient,
             fmt::format("'{}' arrived damaged {} times (the target's MD5 is not the "
                         "file's); {}",
                         item.path, kWrites,
                         removed.ok() ? "the damaged blob was removed"
                                      : "removing the damaged blob failed: " + removed.message())));
}

Status Uploader::StageBlocks(const UploadItem& item, const Entry& before, uint64_t block_size,
                             const std::map<std::string, uint64_t>& staged, Md5Pair& md5s,
                             std::vector<std::string>& ids, UploadResult& result) {
  const uint64_t size = before.size;
  const uint64_t blocks = (size + block_size - 1) / block_size;

  std::deque<std::future<void>> in_flight;
  std::mutex error_mu;
  Status first_error;
  auto record_error = [&](Status st) {
    std::lock_guard lock(error_mu);
    if (first_error.ok()) first_error = std::move(st);
  };
  auto wait_front = [&] {
    in_flight.front().wait();
    in_flight.pop_front();
  };

  for (uint64_t index = 0; index < blocks; ++index) {
    uint64_t offset = index * block_size;
    uint64_t length = std::min(block_size, size - offset);
    Result<std::shared_ptr<char[]>> buffer =
        ReadRange(source_, buffers_, item.path, offset, length);
    if (!buffer.ok()) {
      record_error(buffer.status());
      break;
    }
    md5s.Update(buffer->get(), length);
    Md5Digest block_md5 = md5s.FinishBlock();
    std::string id = BlockId(item.path, size, before.mtime_ns, index, block_md5);
    ids.push_back(id);
    auto it = staged.find(id);
    if (it != staged.end() && it->second == length) {
      ++result.blocks_reused;
      continue;
    }
    while (int(in_flight.size()) >= options_.blocks_in_flight) wait_front();
    in_flight.push_back(
        blocks_.Submit([this, &item, id, buffer = *buffer, length, block_md5, &record_error] {
          Status st =
              target_.StageBlock(item.path, id, http::Body::FromBuffer(buffer, length), block_md5);
          if (st.ok()) {
            bytes_sent_ += length;
          } else {
            record_error(st);
          }
        }));
    result.bytes_sent += length;
    std::lock_guard lock(error_mu);
    if (!first_error.ok()) break;
  }
  while (!in_flight.empty()) wait_front();

  return first_error;
}

UploadResult Uploader::UploadBlocks(const UploadItem& item, const Entry& before) {
  const uint64_t size = before.size;
  Result<BlockPlan> plan =
      PlanBlocks(size, options_.block_size, target_.MaxBlocks(), target_.MaxBlockSize());
  if (!plan.ok()) return Failed(plan.status());
  const uint64_t block_size = plan->block_size;
  UploadResult result;
  result.size = size;
  result.mtime_ns = before.mtime_ns;

  std::map<std::string, uint64_t> staged;  // by id, their sizes: left by an earlier attempt
  Result<std::vector<storage::StagedBlock>> list = target_.ListStagedBlocks(item.path);
  if (!list.ok()) return Failed(list.status());
  for (const auto& b : *list) staged[b.id] = b.size;
  Md5Pair md5s;  // the whole file's and each block's, in one pass
  std::vector<std::string> ids;
  Status stage_error = StageBlocks(item, before, block_size, staged, md5s, ids, result);
  Result<Entry> after = StatSource(item.path);
  if (!after.ok()) return FromSourceError(after.status());
  if (!SameVersion(before, *after)) return Changing();
  if (!stage_error.ok()) return FromSourceError(stage_error);

  Md5Digest md5 = md5s.FinishWhole();
  result.md5 = md5;
  if (before.content_md5 && *before.content_md5 != md5) {
    return Failed(NotTheSourcesBytes(item.path, md5, *before.content_md5));
  }
  WriteOptions options = FileWriteOptions(item, before);
  options.content_md5 = md5;
  Result<storage::WriteResult> committed = target_.Commit(item.path, ids, options);
  if (committed.ok()) {
    result.outcome = UploadOutcome::kCopied;
    result.etag = committed->etag;
    return result;
  }
  if (!Refused(committed.status())) return Failed(committed.status());
  return AdoptOrConflict(item, committed.status(), size, md5, result);
}

}  // namespace ferry::transfer
