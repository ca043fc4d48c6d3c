#include "support/store_conformance.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <set>

#include "storage/memory_store.h"

namespace ferry::testing {

using storage::Condition;
using storage::Entry;
using storage::Kind;
using storage::WriteOptions;

std::string ReadAllOf(storage::Store& store, const std::string& path) {
  std::string out;
  http::Sink sink{[&](const char* p, size_t n) {
                    out.append(p, n);
                    return true;
                  },
                  [&] { out.clear(); }};
  Status st = store.Read(path, 0, UINT64_MAX, sink);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::vector<std::string> ListPaths(storage::Store& store, const std::string& prefix,
                                   bool files_only, storage::ListOptions options) {
  std::vector<std::string> paths;
  auto lister = store.List(prefix, options);
  EXPECT_TRUE(lister.ok()) << lister.status().ToString();
  if (!lister.ok()) return paths;
  Entry entry;
  while (true) {
    Result<bool> more = (*lister)->Next(entry);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    if (!files_only || entry.kind == Kind::kFile) paths.push_back(entry.path);
  }
  return paths;
}

namespace {

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

WriteOptions WithMd5(const std::string& data, Condition condition = Condition::None()) {
  WriteOptions options;
  options.condition = condition;
  options.content_md5 = Md5::Of(data);
  return options;
}

}  // namespace

TEST_P(StoreConformance, WriteStatReadRoundTrip) {
  ASSERT_TRUE(store_->CreateRoot().ok());
  for (size_t size : {size_t(0), size_t(1), size_t(1000), size_t(1 << 20)}) {
    std::string path = "round/trip-" + std::to_string(size);
    std::string data = RandomBytes(size, size);
    WriteOptions options = WithMd5(data);
    options.metadata = {{"modtime", "1700000000123456789"}, {"permissions", "33188"}};
    auto written = store_->Write(path, http::Body::FromString(data), options);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    EXPECT_FALSE(written->etag.empty());

    auto entry = store_->Stat(path);
    ASSERT_TRUE(entry.ok()) << entry.status().ToString();
    EXPECT_EQ(entry->size, size);
    EXPECT_EQ(entry->kind, Kind::kFile);
    EXPECT_EQ(entry->etag, written->etag);
    if (GetParam().keeps_metadata) {
      ASSERT_TRUE(entry->content_md5.has_value());
      EXPECT_EQ(*entry->content_md5, Md5::Of(data));
      EXPECT_EQ(entry->metadata.at("modtime"), "1700000000123456789");
    } else {
      EXPECT_EQ(entry->mtime_ns, 1700000000123456789);
    }
    EXPECT_EQ(ReadAllOf(*store_, path), data);
  }
}

// A writer that streams a body without knowing its MD5 checks what the target received instead.
TEST_P(StoreConformance, AWriteWithoutAnMd5ReportsTheOneTheTargetComputed) {
  ASSERT_TRUE(store_->CreateRoot().ok());
  std::string data = RandomBytes(300'000, 11);
  auto written = store_->Write("hashed-by-target", http::Body::FromString(data), {});
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  if (!GetParam().keeps_metadata) return;  // a local tree keeps no MD5
  EXPECT_EQ(written->content_md5, Md5::Of(data));
  EXPECT_EQ(store_->Stat("hashed-by-target")->content_md5, Md5::Of(data));
}

TEST_P(StoreConformance, RangedRead) {
  std::string data = RandomBytes(10000, 7);
  ASSERT_TRUE(store_->Write("ranged", http::Body::FromString(data), {}).ok());
  std::string part;
  http::Sink sink{[&](const char* p, size_t n) {
                    part.append(p, n);
                    return true;
                  },
                  [&] { part.clear(); }};
  ASSERT_TRUE(store_->Read("ranged", 1234, 5000, sink).ok());
  EXPECT_EQ(part, data.substr(1234, 5000));
  part.clear();
  ASSERT_TRUE(store_->Read("ranged", 9000, UINT64_MAX, sink).ok());
  EXPECT_EQ(part, data.substr(9000));
}

TEST_P(StoreConformance, WrongMd5IsRejectedAndNothingIsWritten) {
  WriteOptions options;
  options.content_md5 = Md5::Of("something else");
  auto written = store_->Write("bad-md5", http::Body::FromString("payload"), options);
  EXPECT_EQ(written.status().code(), Code::kInvalidInput) << written.status().ToString();
  EXPECT_EQ(store_->Stat("bad-md5").status().code(), Code::kNotFound);
}

TEST_P(StoreConformance, CreateOnlyWriteRefusesAnExistingItem) {
  ASSERT_TRUE(store_->Write("taken", http::Body::FromString("first"), {}).ok());
  auto second = store_->Write("taken", http::Body::FromString("second"),
                              WithMd5("second", Condition::IfNoneExists()));
  EXPECT_EQ(second.status().code(), Code::kAlreadyExists) << second.status().ToString();
  EXPECT_EQ(ReadAllOf(*store_, "taken"), "first");

  auto fresh = store_->Write("free", http::Body::FromString("new"),
                             WithMd5("new", Condition::IfNoneExists()));
  EXPECT_TRUE(fresh.ok()) << fresh.status().ToString();
}

TEST_P(StoreConformance, IfMatchWriteNeedsTheCurrentEtag) {
  auto first = store_->Write("versioned", http::Body::FromString("v1"), {});
  ASSERT_TRUE(first.ok());
  auto second = store_->Write("versioned", http::Body::FromString("v2"),
                              WithMd5("v2", Condition::IfMatch(first->etag)));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(second->etag, first->etag);

  auto stale = store_->Write("versioned", http::Body::FromString("v3"),
                             WithMd5("v3", Condition::IfMatch(first->etag)));
  EXPECT_EQ(stale.status().code(), Code::kPreconditionFailed) << stale.status().ToString();
  EXPECT_EQ(ReadAllOf(*store_, "versioned"), "v2");

  auto missing = store_->Write("never-written", http::Body::FromString("x"),
                               WithMd5("x", Condition::IfMatch(first->etag)));
  EXPECT_EQ(missing.status().code(), Code::kPreconditionFailed) << missing.status().ToString();
}

TEST_P(StoreConformance, StagedBlocksCommitInTheGivenOrder) {
  std::vector<std::string> blocks{RandomBytes(1000, 1), RandomBytes(2000, 2), RandomBytes(10, 3)};
  std::vector<std::string> ids{"block-000002", "block-000000", "block-000001"};
  // Staged out of order; committed as 0, 1, 2.
  ASSERT_TRUE(
      store_->StageBlock("big/file", ids[1], http::Body::FromString(blocks[0]), Md5::Of(blocks[0]))
          .ok());
  ASSERT_TRUE(
      store_->StageBlock("big/file", ids[0], http::Body::FromString(blocks[2]), Md5::Of(blocks[2]))
          .ok());
  ASSERT_TRUE(
      store_->StageBlock("big/file", ids[2], http::Body::FromString(blocks[1]), std::nullopt).ok());

  auto staged = store_->ListStagedBlocks("big/file");
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  ASSERT_EQ(staged->size(), 3u);
  std::vector<std::string> staged_ids;
  for (const auto& b : *staged) staged_ids.push_back(b.id);
  std::sort(staged_ids.begin(), staged_ids.end());
  EXPECT_EQ(staged_ids, (std::vector<std::string>{"block-000000", "block-000001", "block-000002"}));
  EXPECT_EQ(store_->Stat("big/file").status().code(), Code::kNotFound);

  std::string whole = blocks[0] + blocks[1] + blocks[2];
  WriteOptions options = WithMd5(whole, Condition::IfNoneExists());
  auto committed =
      store_->Commit("big/file", {"block-000000", "block-000001", "block-000002"}, options);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(ReadAllOf(*store_, "big/file"), whole);
  auto entry = store_->Stat("big/file");
  ASSERT_TRUE(entry.ok());
  if (GetParam().keeps_metadata) {
    EXPECT_EQ(entry->content_md5, Md5::Of(whole));
  }
  auto after = store_->ListStagedBlocks("big/file");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

TEST_P(StoreConformance, BlockWithWrongMd5IsRejected) {
  Status st = store_->StageBlock("blk", "id-1", http::Body::FromString("abc"), Md5::Of("abd"));
  EXPECT_EQ(st.code(), Code::kInvalidInput) << st.ToString();
}

TEST_P(StoreConformance, CommitOfAnUnstagedBlockFails) {
  ASSERT_TRUE(store_->StageBlock("partial", "id-1", http::Body::FromString("abc"), {}).ok());
  auto committed = store_->Commit("partial", {"id-1", "id-2"}, {});
  EXPECT_FALSE(committed.ok());
  EXPECT_EQ(store_->Stat("partial").status().code(), Code::kNotFound);
}

TEST_P(StoreConformance, ListingIsSortedByPathBytesAndHonoursThePrefix) {
  std::vector<std::string> names{"b",   "a/c", "a/b/z", "a-b",      "a.txt",
                                 "a/a", "A",   "é",     "sp ace/x", "z/deep/er/file"};
  for (const auto& name : names) {
    ASSERT_TRUE(store_->Write(name, http::Body::FromString(name), {}).ok()) << name;
  }
  std::vector<std::string> files;
  for (const auto& path : ListPaths(*store_)) {
    auto entry = store_->Stat(path);
    ASSERT_TRUE(entry.ok()) << path;
    if (entry->kind == Kind::kFile) files.push_back(path);
  }
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(files, expected);

  std::vector<std::string> all = ListPaths(*store_);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));

  std::vector<std::string> under_a;
  for (const auto& path : ListPaths(*store_, "a/")) {
    if (store_->Stat(path)->kind == Kind::kFile) under_a.push_back(path);
  }
  EXPECT_EQ(under_a, (std::vector<std::string>{"a/a", "a/b/z", "a/c"}));
}

TEST_P(StoreConformance, AwkwardNamesRoundTrip) {
  std::string long_segment(240, 'L');
  std::vector<std::string> names{
      "with space.txt",
      "hash#tag",
      "question?mark",
      "per%cent",
      "plus+sign",
      "amp&ersand",
      "équipe/café",
      "日本語/ファイル",
      "emoji-😀",
      "quote'\"s",
      "semi;colon=eq",
      "brackets[1]{2}",
      "tilde~dash-_",
      long_segment + "/" + long_segment + "/" + long_segment + "/" + long_segment};
  for (const auto& name : names) {
    auto written = store_->Write(name, http::Body::FromString("content of " + name), {});
    ASSERT_TRUE(written.ok()) << name << ": " << written.status().ToString();
    EXPECT_EQ(ReadAllOf(*store_, name), "content of " + name) << name;
    auto entry = store_->Stat(name);
    ASSERT_TRUE(entry.ok()) << name;
    EXPECT_EQ(entry->path, name);
  }
  std::vector<std::string> listed;
  for (const auto& path : ListPaths(*store_)) {
    if (store_->Stat(path)->kind == Kind::kFile) listed.push_back(path);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(listed, names);
}

TEST_P(StoreConformance, SetMetadataReplacesItAndHonoursIfMatch) {
  WriteOptions options;
  options.metadata = {{"modtime", "1000000000"}};
  auto written = store_->Write("meta", http::Body::FromString("m"), options);
  ASSERT_TRUE(written.ok());
  auto updated =
      store_->SetMetadata("meta", {{"modtime", "2000000000"}}, Condition::IfMatch(written->etag));
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  auto entry = store_->Stat("meta");
  ASSERT_TRUE(entry.ok());
  if (GetParam().keeps_metadata) {
    EXPECT_EQ(entry->metadata.at("modtime"), "2000000000");
  } else {
    EXPECT_EQ(entry->mtime_ns, 2000000000);
  }
  EXPECT_EQ(entry->etag, updated->etag);
  auto stale = store_->SetMetadata("meta", {{"modtime", "3"}}, Condition::IfMatch("\"stale\""));
  EXPECT_EQ(stale.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(store_->SetMetadata("absent", {}, {}).status().code(), Code::kNotFound);
}

TEST_P(StoreConformance, DeleteHonoursIfMatchAndReportsMissingItems) {
  auto written = store_->Write("doomed", http::Body::FromString("d"), {});
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(store_->Delete("doomed", Condition::IfMatch("\"stale\"")).code(),
            Code::kPreconditionFailed);
  EXPECT_TRUE(store_->Stat("doomed").ok());
  EXPECT_TRUE(store_->Delete("doomed", Condition::IfMatch(written->etag)).ok());
  EXPECT_EQ(store_->Stat("doomed").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Delete("doomed", {}).code(), Code::kNotFound);
}

TEST_P(StoreConformance, FolderMarkersAndLinksAreReportedByKind) {
  WriteOptions folder;
  folder.metadata = {{"hdi_isfolder", "true"}};
  ASSERT_TRUE(store_->Write("empty-folder", http::Body::Empty(), folder).ok());
  WriteOptions link;
  link.metadata = {{"is_symlink", "true"}};
  ASSERT_TRUE(store_->Write("the-link", http::Body::FromString("target/file"), link).ok());
  auto f = store_->Stat("empty-folder");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, Kind::kFolder);
  auto l = store_->Stat("the-link");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->kind, Kind::kSymlink);

  bool saw_folder = false, saw_link = false;
  auto lister = store_->List("");
  ASSERT_TRUE(lister.ok());
  Entry entry;
  while (*(*lister)->Next(entry)) {
    if (entry.path == "empty-folder") saw_folder = entry.kind == Kind::kFolder;
    if (entry.path == "the-link") saw_link = entry.kind == Kind::kSymlink;
  }
  EXPECT_TRUE(saw_folder);
  EXPECT_TRUE(saw_link);
}

TEST_P(StoreConformance, StatOfAMissingItemIsNotFound) {
  EXPECT_EQ(store_->Stat("no/such/item").status().code(), Code::kNotFound);
}

// ---- the read side (SourceConformance) ----

namespace {

std::vector<SourceObject> Objects(const std::vector<std::string>& paths) {
  std::vector<SourceObject> objects;
  for (const auto& path : paths) objects.push_back({path, "content of " + path, "", {}});
  return objects;
}

Result<std::string> ReadRange(storage::Store& store, const std::string& path, uint64_t offset,
                              uint64_t length) {
  std::string out;
  http::Sink sink{[&](const char* p, size_t n) {
                    out.append(p, n);
                    return true;
                  },
                  [&] { out.clear(); }};
  Status st = store.Read(path, offset, length, sink);
  if (!st.ok()) return st;
  return out;
}

}  // namespace

TEST_P(SourceConformance, StatAndReadGiveTheObjectsBytes) {
  std::vector<SourceObject> objects;
  for (size_t size : {size_t(0), size_t(1), size_t(1000), size_t((1 << 20) + 3)}) {
    objects.push_back({"sized/" + std::to_string(size), RandomBytes(size, size), "", {}});
  }
  auto store = GetParam().make(objects);
  for (const auto& object : objects) {
    auto entry = store->Stat(object.path);
    ASSERT_TRUE(entry.ok()) << object.path << ": " << entry.status().ToString();
    EXPECT_EQ(entry->path, object.path);
    EXPECT_EQ(entry->kind, Kind::kFile);
    EXPECT_EQ(entry->size, object.data.size());
    EXPECT_GT(entry->mtime_ns, 0) << object.path;
    if (GetParam().reports_md5) {
      ASSERT_TRUE(entry->content_md5.has_value()) << object.path;
      EXPECT_EQ(*entry->content_md5, Md5::Of(object.data)) << object.path;
    }
    EXPECT_EQ(ReadAllOf(*store, object.path), object.data) << object.path;
  }
}

TEST_P(SourceConformance, RangedReadsAndReadsPastTheEnd) {
  std::string data = RandomBytes(10000, 5);
  auto store = GetParam().make({{"ranged", data, "", {}}});
  EXPECT_EQ(ReadRange(*store, "ranged", 1234, 5000).value(), data.substr(1234, 5000));
  EXPECT_EQ(ReadRange(*store, "ranged", 9000, UINT64_MAX).value(), data.substr(9000));
  EXPECT_EQ(ReadRange(*store, "ranged", 9990, 100).value(), data.substr(9990));
  auto past = ReadRange(*store, "ranged", 10000, UINT64_MAX);
  ASSERT_TRUE(past.ok()) << past.status().ToString();
  EXPECT_EQ(*past, "");
}

// 25 names: a backend instantiated with a small page size lists them over several pages.
TEST_P(SourceConformance, ListingIsCompleteSortedAndHonoursThePrefix) {
  std::vector<std::string> names{"b",       "a/c",     "a/b/z",   "a-b",         "a.txt",
                                 "a/a",     "A",       "é",       "sp ace/x",    "z/deep/er/f",
                                 "plus+s",  "pct%25",  "amp&er",  "équipe/café", "日本/ファ",
                                 "q'uote",  "semi;c",  "tilde~d", "hash#t",      "emoji-😀",
                                 "brkt[1]", "eq=sign", "comma,c", "at@sign",     "dollar$"};
  auto store = GetParam().make(Objects(names));
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end());
  if (GetParam().byte_order) {
    EXPECT_EQ(ListPaths(*store, "", true), expected);
  } else {
    std::vector<std::string> listed = ListPaths(*store, "", true);
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(listed, expected) << "every name, in some order";
    auto lister = store->List("");
    ASSERT_TRUE(lister.ok());
    auto checked = storage::InByteOrder(std::move(*lister), "the source");
    Entry entry;
    Result<bool> more = true;
    while (more.ok() && *more) more = checked->Next(entry);
    EXPECT_EQ(more.status().code(), Code::kRefused) << "the misordered listing is refused";
  }
  EXPECT_EQ(ListPaths(*store, "a/", true), (std::vector<std::string>{"a/a", "a/b/z", "a/c"}));
  EXPECT_EQ(ListPaths(*store, "nothing/", true), std::vector<std::string>{});
  for (const auto& name : names) {
    EXPECT_EQ(ReadAllOf(*store, name), "content of " + name) << name;
  }
}

// A listing of more than a page is split at its folders and read by parallel requests (object
// stores); it must be the one listing a single stream reads.
TEST_P(SourceConformance, AListingSplitByFolderIsTheFlatListing) {
  std::vector<std::string> names{"A", "a0", "a_b", "z"};  // around the folders
  for (int i = 0; i < 10; ++i) {
    for (const char* folder : {"a/", "b/", "c/d/", "c/e/"}) {
      names.push_back(fmt::format("{}{:02}", folder, i));
    }
  }
  auto store = GetParam().make(Objects(names));
  auto list = [&](int concurrency) {
    return ListPaths(*store, "", /*files_only=*/true, {.concurrency = concurrency});
  };
  std::vector<std::string> flat = list(1);
  EXPECT_EQ(list(3), flat);
  EXPECT_EQ(list(0), flat);
  std::sort(names.begin(), names.end());
  std::sort(flat.begin(), flat.end());
  EXPECT_EQ(flat, names);
}

// An object store's level listing holds at most ListOptions::page_size entries a page, its
// marker going on from there: a plan reads a level's first page, short, only to learn whether
// the level is bigger. (Azure and S3 count a page's folders too; s3rver, the test server, counts
// only its objects.)
TEST_P(SourceConformance, ALevelListingHonoursThePageSize) {
  auto store = GetParam().make(Objects({"a", "b/1", "b/2", "c", "d/1", "e"}));
  if (store->IsFolderTree()) GTEST_SKIP() << "a folder's level is read whole";
  std::set<std::string> seen;
  std::string marker;
  int pages = 0;
  do {
    Result<storage::LevelPage> page =
        store->ListLevel("", marker, storage::ListOptions{.metadata = false, .page_size = 2});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->entries.size(), 2u);
    for (const Entry& e : page->entries) seen.insert(e.path);
    for (const std::string& p : page->prefixes) seen.insert(p);
    marker = page->next;
  } while (++pages < 10 && !marker.empty());
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b/", "c", "d/", "e"}));
  EXPECT_GE(pages, 2) << "three objects, two a page";
}

TEST_P(SourceConformance, AListingAgreesWithStat) {
  auto store = GetParam().make(Objects({"one", "two/three", "four"}));
  auto lister = store->List("");
  ASSERT_TRUE(lister.ok()) << lister.status().ToString();
  Entry listed;
  int n = 0;
  while (true) {
    Result<bool> more = (*lister)->Next(listed);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    if (listed.kind != Kind::kFile) continue;
    ++n;
    auto stat = store->Stat(listed.path);
    ASSERT_TRUE(stat.ok()) << listed.path;
    EXPECT_EQ(listed.size, stat->size) << listed.path;
    EXPECT_EQ(listed.etag, stat->etag) << listed.path;
    EXPECT_EQ(listed.mtime_ns, stat->mtime_ns) << listed.path;
  }
  EXPECT_EQ(n, 3);
}

TEST_P(SourceConformance, ContentTypeAndMetadataCarry) {
  if (!GetParam().keeps_metadata) GTEST_SKIP() << "a folder keeps neither";
  auto store =
      GetParam().make({{"typed.html", "<p>", "text/html", {{"team", "web"}, {"plain", "yes"}}}});
  auto entry = store->Stat("typed.html");
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  EXPECT_EQ(entry->content_type, "text/html");
  EXPECT_EQ(entry->metadata.at("team"), "web");
  EXPECT_EQ(entry->metadata.at("plain"), "yes");
}

TEST_P(SourceConformance, AMissingObjectIsNotFound) {
  auto store = GetParam().make(Objects({"present"}));
  EXPECT_EQ(store->Stat("absent").status().code(), Code::kNotFound);
  EXPECT_EQ(ReadRange(*store, "absent", 0, UINT64_MAX).status().code(), Code::kNotFound);
}

TEST_P(SourceConformance, AnEmptyRootIdentifiesAsEmpty) {
  if (!GetParam().identifies) GTEST_SKIP() << "no identity";
  auto empty = GetParam().make({});
  auto identity = empty->Identify();
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_TRUE(identity->empty);
  auto full = GetParam().make(Objects({"x/y"}));
  identity = full->Identify();
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_FALSE(identity->empty);
}

}  // namespace ferry::testing
