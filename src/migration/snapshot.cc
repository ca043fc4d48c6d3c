#include "migration/snapshot.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "base/text.h"

namespace ferry::migration {

namespace {

// One listing entry as written to the snapshot file: length-prefixed, so any name round-trips.
struct Snap {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint32_t mode = 0;
  int32_t kind = 0;
  std::string etag;  // an object's version tag

  bool SameAs(const Snap& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns && inode == o.inode &&
           mode == o.mode && kind == o.kind && etag == o.etag;
  }
};

bool WriteText(std::FILE* f, const std::string& text) {
  uint64_t len = text.size();
  return std::fwrite(&len, sizeof len, 1, f) == 1 && std::fwrite(text.data(), 1, len, f) == len;
}

bool ReadText(std::FILE* f, std::string& text) {
  uint64_t len = 0;
  if (std::fread(&len, sizeof len, 1, f) != 1 || len > (64u << 20)) return false;
  text.resize(len);
  return std::fread(text.data(), 1, len, f) == len;
}

bool WriteSnap(std::FILE* f, const Snap& s) {
  return WriteText(f, s.path) && std::fwrite(&s.size, sizeof s.size, 1, f) == 1 &&
         std::fwrite(&s.mtime_ns, sizeof s.mtime_ns, 1, f) == 1 &&
         std::fwrite(&s.ctime_ns, sizeof s.ctime_ns, 1, f) == 1 &&
         std::fwrite(&s.inode, sizeof s.inode, 1, f) == 1 &&
         std::fwrite(&s.mode, sizeof s.mode, 1, f) == 1 &&
         std::fwrite(&s.kind, sizeof s.kind, 1, f) == 1 && WriteText(f, s.etag);
}

bool ReadSnap(std::FILE* f, Snap& s) {
  return ReadText(f, s.path) && std::fread(&s.size, sizeof s.size, 1, f) == 1 &&
         std::fread(&s.mtime_ns, sizeof s.mtime_ns, 1, f) == 1 &&
         std::fread(&s.ctime_ns, sizeof s.ctime_ns, 1, f) == 1 &&
         std::fread(&s.inode, sizeof s.inode, 1, f) == 1 &&
         std::fread(&s.mode, sizeof s.mode, 1, f) == 1 &&
         std::fread(&s.kind, sizeof s.kind, 1, f) == 1 && ReadText(f, s.etag);
}

// The next entry of `lister` the migration takes, as a snapshot record.
Result<bool> NextSnap(storage::Lister& lister, const Filter& filter, Snap& snap) {
  storage::Entry entry;
  while (true) {
    Result<bool> more = lister.Next(entry);
    if (!more.ok()) {
      if (lister.Unlisted().empty()) return more.status();
      return Status(Code::kRefused,
                    "the source cannot be proven unchanged: " + more.status().message());
    }
    if (!*more) return false;
    bool folder = entry.kind == storage::Kind::kFolder;
    if (!filter.Included(entry.path, folder)) {
      if (folder && filter.Excluded(entry.path)) lister.SkipContents();
      continue;
    }
    snap = {entry.path, folder ? 0 : entry.size, entry.mtime_ns, entry.ctime_ns, entry.inode,
            entry.mode, int32_t(entry.kind),     entry.etag};
    return true;
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

Result<SnapshotDiff> ListSnapshot(storage::Store& source, const Filter& filter,
                                  const std::string& out, const std::string& before,
                                  size_t max_listed, int list_concurrency) {
  File written(std::fopen(out.c_str(), "wb"));
  if (!written) return Status(Code::kIo, "cannot write " + out);
  File old;
  if (!before.empty()) {
    old.reset(std::fopen(before.c_str(), "rb"));
    if (!old) return Status(Code::kIo, "cannot read " + before);
  }
  Result<std::unique_ptr<storage::Lister>> lister =
      source.List("", storage::ListOptions{.metadata = source.KindsNeedMetadata(),
                                           .concurrency = list_concurrency});
  if (!lister.ok()) return lister.status();
  *lister = storage::InByteOrder(std::move(*lister), "the source");

  SnapshotDiff diff;
  auto note = [&](const std::string& path) {
    ++diff.changes;
    if (diff.paths.size() < max_listed) diff.paths.push_back(path);
  };
  Snap was, now;
  bool has_was = old && ReadSnap(old.get(), was);
  Result<bool> has_now = NextSnap(**lister, filter, now);
  while (has_now.ok() && (has_was || *has_now)) {
    int order = !has_was ? 1 : !*has_now ? -1 : was.path.compare(now.path);
    if (old) {
      if (order < 0) {
        note(was.path);  // removed
      } else if (order > 0 || !was.SameAs(now)) {
        note(now.path);  // added, or changed
      }
    }
    if (order <= 0) has_was = ReadSnap(old.get(), was);
    if (order >= 0) {
      if (!WriteSnap(written.get(), now)) {
        return Status(Code::kIo, "cannot write " + out + " (disk full?)");
      }
      has_now = NextSnap(**lister, filter, now);
    }
  }
  if (!has_now.ok()) return has_now.status();
  if (std::fflush(written.get()) != 0) return Status(Code::kIo, "cannot write " + out);
  diff.listed_ns = NowUnixNs();
  return diff;
}

}  // namespace ferry::migration
