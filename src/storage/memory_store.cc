#include "storage/memory_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/text.h"

namespace ferry::storage {

class MemoryStore::MemoryLister : public Lister {
 public:
  MemoryLister(MemoryStore* store, std::string prefix, std::string after)
      : store_(store), prefix_(std::move(prefix)), last_(std::move(after)) {
    started_ = !last_.empty() && last_ >= prefix_;
  }

  Result<bool> Next(Entry& entry) override {
    std::lock_guard lock(store_->mu_);
    auto it =
        started_ ? store_->objects_.upper_bound(last_) : store_->objects_.lower_bound(prefix_);
    if (it == store_->objects_.end() || !it->first.starts_with(prefix_)) return false;
    started_ = true;
    last_ = it->first;
    entry = store_->ToEntry(it->first, it->second);
    return true;
  }

 private:
  MemoryStore* store_;
  std::string prefix_;
  std::string last_;
  bool started_ = false;
};

Entry MemoryStore::ToEntry(const std::string& path, const Object& object) const {
  Entry entry;
  entry.path = path;
  entry.kind = KindFromMetadata(object.metadata);
  entry.size = object.data.size();
  entry.mtime_ns = object.mtime_ns;
  entry.etag = object.etag;
  entry.content_md5 = object.content_md5;
  entry.metadata = object.metadata;
  entry.tier = object.tier;
  entry.content_type = object.content_type;
  return entry;
}

Result<std::unique_ptr<Lister>> MemoryStore::List(std::string_view prefix, ListOptions options) {
  return std::unique_ptr<Lister>(
      new MemoryLister(this, std::string(prefix), lists_after ? options.after : ""));
}

Result<LevelPage> MemoryStore::ListLevel(std::string_view prefix, std::string_view marker,
                                         const ListOptions& options) {
  ++level_pages;
  const size_t page_size = options.page_size > 0
                               ? std::min(size_t(options.page_size), level_page_size)
                               : level_page_size;
  std::lock_guard lock(mu_);
  LevelPage page;
  // The marker is where the next page begins (lower bound): just after the last entry, or past
  // every name under the last prefix ("dir/" ends where "dir0" begins).
  std::string from(marker.empty() ? prefix : marker);
  size_t results = 0;
  for (auto it = objects_.lower_bound(from);
       it != objects_.end() && it->first.starts_with(prefix);) {
    if (results == page_size) {
      page.next = from;
      break;
    }
    size_t slash = it->first.find('/', prefix.size());
    if (slash == std::string::npos) {
      page.entries.push_back(ToEntry(it->first, it->second));
      from = it->first + std::string(1, '\0');
    } else {
      std::string sub = it->first.substr(0, slash + 1);
      if (!hidden_prefixes.contains(sub)) page.prefixes.push_back(sub);
      from = it->first.substr(0, slash) + "0";
    }
    it = objects_.lower_bound(from);
    ++results;
  }
  return page;
}

Result<Entry> MemoryStore::Stat(std::string_view path) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  if (it == objects_.end())
    return Status(Code::kNotFound, fmt::format("'{}' does not exist", path));
  return ToEntry(it->first, it->second);
}

Status MemoryStore::Read(std::string_view path, uint64_t offset, uint64_t length,
                         http::Sink& sink) {
  std::string slice;
  {
    std::lock_guard lock(mu_);
    auto it = objects_.find(path);
    if (it == objects_.end()) {
      return Status(Code::kNotFound, fmt::format("'{}' does not exist", path));
    }
    const std::string& data = it->second.data;
    if (offset < data.size()) slice = data.substr(offset, length);
  }
  if (!slice.empty() && !sink.write(slice.data(), slice.size())) {
    return Status(Code::kIo, "the sink refused the data");
  }
  return Status::Ok();
}

Status MemoryStore::CheckCondition(std::string_view path, const Condition& condition) const {
  auto it = objects_.find(path);
  switch (condition.type) {
    case Condition::Type::kNone:
      return Status::Ok();
    case Condition::Type::kIfNoneExists:
      if (it != objects_.end()) {
        return Status(Code::kAlreadyExists, fmt::format("'{}' already exists", path));
      }
      return Status::Ok();
    case Condition::Type::kIfMatch:
      if (it == objects_.end() || it->second.etag != condition.etag) {
        return Status(Code::kPreconditionFailed,
                      fmt::format("'{}' is not at version {}", path, condition.etag));
      }
      return Status::Ok();
  }
  return Status::Ok();
}

Result<WriteResult> MemoryStore::Put(std::string_view path, std::string data,
                                     const WriteOptions& options) {
  // REQUIRES: mu_ held.
  FERRY_RETURN_IF_ERROR(CheckCondition(path, options.condition));
  Object object;
  object.data = std::move(data);
  object.metadata = options.metadata;
  object.content_md5 = options.content_md5;
  if (!options.tier.empty()) object.tier = options.tier;
  object.content_type =
      options.content_type.empty() ? "application/octet-stream" : options.content_type;
  object.etag = fmt::format("\"0x{:X}\"", next_etag_++);
  object.mtime_ns = NowUnixNs();
  std::string etag = object.etag;
  objects_.insert_or_assign(std::string(path), std::move(object));
  staged_.erase(std::string(path));
  return WriteResult{.etag = etag};
}

Result<WriteResult> MemoryStore::Write(std::string_view path, const http::Body& body,
                                       const WriteOptions& options) {
  Result<std::string> data = ReadAll(body);
  if (!data.ok()) return data.status();
  // Like Azure's Put Blob: the MD5 is checked when given, computed and stored when not.
  Md5Digest md5 = Md5::Of(*data);
  if (options.content_md5 && md5 != *options.content_md5) {
    return Status(Code::kInvalidInput, "Content-MD5 does not match the data");
  }
  WriteOptions stored = options;
  stored.content_md5 = md5;
  std::lock_guard lock(mu_);
  Result<WriteResult> written = Put(path, std::move(data).value(), stored);
  if (written.ok()) written->content_md5 = md5;
  return written;
}

Status MemoryStore::StageBlock(std::string_view path, std::string_view block_id,
                               const http::Body& body, const std::optional<Md5Digest>& md5) {
  Result<std::string> data = ReadAll(body);
  if (!data.ok()) return data.status();
  if (md5 && Md5::Of(*data) != *md5) {
    return Status(Code::kInvalidInput, "block MD5 does not match the data");
  }
  std::lock_guard lock(mu_);
  auto& blocks = staged_[std::string(path)];
  if (!blocks.empty() && blocks.begin()->first.size() != block_id.size()) {
    return Status(Code::kInvalidInput, "block ids of one item must have the same length");
  }
  blocks[std::string(block_id)] = std::move(data).value();
  return Status::Ok();
}

Result<WriteResult> MemoryStore::Commit(std::string_view path,
                                        const std::vector<std::string>& block_ids,
                                        const WriteOptions& options) {
  std::lock_guard lock(mu_);
  auto staged = staged_.find(path);
  std::string data;
  for (const std::string& id : block_ids) {
    if (staged == staged_.end() || !staged->second.contains(id)) {
      return Status(Code::kInvalidInput, fmt::format("block '{}' of '{}' is not staged", id, path));
    }
    data += staged->second.at(id);
  }
  return Put(path, std::move(data), options);
}

Result<std::vector<StagedBlock>> MemoryStore::ListStagedBlocks(std::string_view path) {
  std::lock_guard lock(mu_);
  std::vector<StagedBlock> out;
  auto staged = staged_.find(path);
  if (staged != staged_.end()) {
    for (const auto& [id, data] : staged->second) out.push_back({id, data.size()});
  }
  return out;
}

Result<WriteResult> MemoryStore::SetMetadata(std::string_view path, const Metadata& metadata,
                                             const Condition& condition) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  if (it == objects_.end())
    return Status(Code::kNotFound, fmt::format("'{}' does not exist", path));
  FERRY_RETURN_IF_ERROR(CheckCondition(path, condition));
  it->second.metadata = metadata;
  it->second.etag = fmt::format("\"0x{:X}\"", next_etag_++);
  return WriteResult{.etag = it->second.etag};
}

Status MemoryStore::SetTier(std::string_view path, std::string_view tier) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  if (it == objects_.end())
    return Status(Code::kNotFound, fmt::format("'{}' does not exist", path));
  it->second.tier = std::string(tier);
  return Status::Ok();
}

Status MemoryStore::Delete(std::string_view path, const Condition& condition) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  if (it == objects_.end())
    return Status(Code::kNotFound, fmt::format("'{}' does not exist", path));
  FERRY_RETURN_IF_ERROR(CheckCondition(path, condition));
  objects_.erase(it);
  return Status::Ok();
}

}  // namespace ferry::storage
