// The durable record of one migration: its configuration, one row per item, one per run, and an
// append-only, hash-chained event log. `Catalog` is the interface every stage uses; a location
// names where the catalog lives (a migration folder holds a SQLite catalog, sqlite_catalog.h).
// What every implementation must do is written down as tests in catalog_conformance.h.
#pragma once

#include <chrono>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "storage/store.h"

namespace ferry::catalog {

// pending: to copy (with a target_etag: a changed item, to replace under If-Match);
// source-deleted: gone from the source after it was copied (its blob stays, additive mode);
// deleted: gone from the source, and its blob deleted (mirror mode);
// kept: the operator kept the blob someone else put in the target (ferry resolve --keep-target).
enum class ItemState {
  kPending,
  kCopied,
  kFailed,
  kSkipped,
  kConflict,
  kVanished,
  kSourceDeleted,
  kDeleted,
  kKept,
};
std::string_view StateName(ItemState state);
std::optional<ItemState> StateFromName(std::string_view name);

// What to do with symbolic links in the source: record them as skipped, follow links to files
// (inside the source), or keep them as link blobs (is_symlink=true).
enum class SymlinkPolicy { kSkip, kFollow, kKeep };
// The stages a run belongs to.
enum class Stage {
  kInit,
  kScan,
  kTrial,
  kCopy,
  kSync,
  kVerify,
  kVerifyDeep,
  kCutover,
  kResolve,
  kWatchSource,
  kDecommissionCheck,
  kAuditTarget
};
inline constexpr Stage kStages[] = {Stage::kInit,
                                    Stage::kScan,
                                    Stage::kTrial,
                                    Stage::kCopy,
                                    Stage::kSync,
                                    Stage::kVerify,
                                    Stage::kVerifyDeep,
                                    Stage::kCutover,
                                    Stage::kResolve,
                                    Stage::kWatchSource,
                                    Stage::kDecommissionCheck,
                                    Stage::kAuditTarget};
static_assert(std::size(kStages) == size_t(Stage::kAuditTarget) + 1, "every stage in kStages");
// What a sync does when an item is deleted at the source: keep its blob, or delete it.
enum class DeleteMode { kAdditive, kMirror };
// Each name as the command line and the catalog write it ("skip", "mirror", ...), and back.
std::string_view Name(SymlinkPolicy policy);
std::string_view Name(DeleteMode mode);
std::string_view Name(Stage stage);
std::optional<SymlinkPolicy> SymlinkPolicyNamed(std::string_view name);
std::optional<DeleteMode> DeleteModeNamed(std::string_view name);
std::optional<Stage> StageNamed(std::string_view name);

// What the migration was set up with. Never holds a credential.
struct Config {
  // This migration's own random id, written into the metadata of every blob it writes, so a
  // write left unrecorded by a crash is known for ferry's own.
  std::string id;
  std::string source;       // as given, without any SAS query
  std::string target;       // as given, without any SAS query
  bool target_sas = false;  // the target URL had a SAS: AZURE_STORAGE_SAS_TOKEN supplies it
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string tier;  // "" for the account default
  SymlinkPolicy symlinks = SymlinkPolicy::kSkip;
  DeleteMode mode = DeleteMode::kAdditive;
  // The blobs' Content-Type: this one for every file; or, if empty and guess_content_type, the
  // one its extension gives (base/mime.h). A migration begun before ferry set types guesses
  // none, so verify expects none there.
  std::string content_type;
  bool guess_content_type = true;
};

struct Item {
  int64_t id = 0;
  std::string path;
  storage::Kind kind = storage::Kind::kFile;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  // 0: not known (recorded by a ferry before schema 2)
  uint64_t inode = 0;    // 0: not known
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string link_target;
  std::optional<Md5Digest> md5;
  ItemState state = ItemState::kPending;
  std::string reason;  // why skipped, the last error, or the conflict's details
  std::string cause;   // a short key that groups errors of one kind
  std::string target_etag;
  int attempts = 0;
  int64_t last_run = 0;
  int64_t verified_ns = 0;    // when verify last found it right in the target (0: never)
  std::string verify_result;  // "ok", or what verify found wrong
  // Set, and committed, before a copy writes the item; cleared when the outcome is recorded.
  // The blob carries it (ferry_write metadata), so a write that a crash left unrecorded is known
  // for this item's own, and nothing else is.
  std::string write_intent;
  // The blob at target_etag is someone else's, kept by the operator (ferry resolve
  // --keep-target), until ferry writes over it: ferry never deletes it.
  bool kept_blob = false;
  // An object source's version tag (its ETag) as scanned, with size and mtime the item's change
  // stamp: a sync sees an object replaced by another of the same size. Empty for files.
  std::string source_etag;
  // The Content-Type its blob was given (the source's own, or as the migration's config says).
  std::string content_type;
};

struct Run {
  int64_t id = 0;
  std::string stage;  // Name(Stage), as recorded (StageNamed reads it)
  int64_t started_ns = 0;
  int64_t ended_ns = 0;  // 0 while running, or when the run was cut short
  std::string outcome;   // "running", "done", "failed items", "interrupted", ...
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t failed = 0;
  std::string summary_json;
};

// Whether an ended run's outcome is one it went through, items failing or not: not stopped,
// failed, refused, or cut short ("interrupted").
inline bool WentThrough(std::string_view outcome) {
  return outcome != "stopped" && outcome != "failed" && outcome != "refused" &&
         outcome != "interrupted";
}

// The items in one state: all of them (`items`, every kind) and by kind. Counts shown to people
// are of files, with folders and links named apart; `items` is for the checks that care about
// any entry (a failed folder is still an open problem).
struct StateTotals {
  ItemState state;
  int64_t items = 0;
  int64_t bytes = 0;
  int64_t files = 0, folders = 0, links = 0, specials = 0;
  // Adds `count` entries of `kind` holding `bytes` bytes.
  void Add(std::string_view kind, int64_t count, int64_t bytes);
};
// Totals per state from rows of (state, kind, count, bytes), in any order.
std::vector<StateTotals> GroupTotals(
    const std::vector<std::tuple<std::string, std::string, int64_t, int64_t>>& rows);

// One entry of the append-only event log.
struct Event {
  int64_t id = 0;
  int64_t run = 0;
  int64_t time_ns = 0;
  std::string path;  // "" for events about the migration rather than an item
  std::string kind;  // discovered, copied, recopied, adopted, failed, conflict, skipped, ...
  std::string detail_json;
  std::string prev_hash;  // hex SHA-256 of the previous event ("000…0" for the first)
  std::string hash;       // hex SHA-256 of prev_hash and this event's content
};

// A blob a trial wrote, under its prefix (paths relative to the target's root).
struct TrialBlob {
  std::string path;  // prefix + "/" + the item's path
  std::string prefix;
  std::string etag;  // as the trial wrote it: cleanup deletes it only while it is this
};

// For implementations: the configuration as a catalog stores it (JSON text), and back; a new
// migration's random id (128 bits in hex).
std::string ConfigText(const Config& config);
Result<Config> ConfigFromText(std::string_view text);
std::string NewMigrationId();
// An item's kind as the catalogs write it (storage::KindName), and back.
std::optional<storage::Kind> KindFromName(std::string_view name);

// The hash an event must carry, given the hash before it.
std::string EventHash(std::string_view prev_hash, int64_t run, int64_t time_ns,
                      std::string_view path, std::string_view kind, std::string_view detail);

struct EventFilter {
  int64_t run = 0;       // 0: every run
  int64_t since_ns = 0;  // 0: from the start
};

// Rows read one at a time, as an implementation produces them (`Source`).
template <typename Row>
class Cursor {
 public:
  class Source {
   public:
    virtual ~Source() = default;
    // Fills `row` and returns true, or returns false at the end.
    virtual Result<bool> Next(Row& row) = 0;
  };
  explicit Cursor(std::unique_ptr<Source> source) : source_(std::move(source)) {}
  Result<bool> Next(Row& row) { return source_->Next(row); }

 private:
  std::unique_ptr<Source> source_;
};

using EventCursor = Cursor<Event>;

struct ChainCheck {
  bool intact = true;
  int64_t events = 0;
  std::string head_hash;  // the last event's hash, when intact
  int64_t first_bad_id = 0;
  std::string problem;  // what does not match at first_bad_id
};

// A read-only view of the items, ordered by path (bytewise), on a snapshot taken when it was
// opened: rows written after that (by this process or not) are not seen. Memory does not grow
// with the count.
using ItemCursor = Cursor<Item>;

// One of the processes that copy a migration together (a catalog that shares work).
struct WorkerInfo {
  std::string name;  // host:pid, as its "worker" event names it
  int64_t run = 0;   // its copy run: the events it wrote carry this run
  int64_t started_ns = 0;
  int64_t heartbeat_ns = 0;      // its last sign of life
  int64_t items = 0, bytes = 0;  // done so far
  bool live = false;             // heard from within its lease, and not gone
  bool left = false;             // finished or stopped, and said so
};

// A folder claimed to list: its path, and its inode and modification time as its parent's
// listing recorded them (0 when it recorded none).
struct FolderClaim {
  std::string path;
  uint64_t inode = 0;
  int64_t mtime_ns = 0;
  // A part of an object store's listing (a prefix, "dir/"): the path up to which a process that
  // held it before recorded its entries ("" for none).
  std::string listed_to = {};
  bool operator==(const FolderClaim&) const = default;
};

// A batch of a part of an object store's listing (a prefix listed flat), as the process that
// holds the part records it: its entries after the last batch's, up to `listed_to`.
struct ListedPart {
  std::string prefix;
  std::vector<storage::Entry> entries;
  std::string listed_to;  // the last path listed (entries the filter left out included)
  bool done = false;      // the part's last batch
};

// One folder's listing, as a process that shares a scan's listing records it.
struct ListedFolder {
  std::string folder;                   // "" for the root
  std::vector<storage::Entry> entries;  // what it holds (its folders among them)
  // Entries that could not be read: path, and why.
  std::vector<std::pair<std::string, std::string>> unlisted;
  std::vector<std::string> subfolders;  // the folders in it to list next
  // Folders in it for the scanning process alone to list (a helper's mount points).
  std::vector<std::string> scanner_subfolders;
  std::string error;  // it could not be read: why (and nothing else is set)
};

// A sync's copy open to helpers: the sync's run, and its leader's copy run.
struct SharedCopy {
  int64_t sync_run = 0, copy_run = 0;
  bool operator==(const SharedCopy&) const = default;
};

// A part of a sync's drift check, claimed: its prefix, and the path up to which a process that
// held it before recorded what it found ("" for none).
struct DriftPart {
  std::string prefix;
  std::string checked_to;
  bool operator==(const DriftPart&) const = default;
};

// What the parts of a drift check hold: parts not done, and what the recorded ones found.
struct DriftTotals {
  int64_t parts = 0, left = 0;
  int64_t changed = 0, unexpected = 0;
};

// One migration's catalog. Not thread-safe: one thread of a process uses it.
class Catalog {
 public:
  // Creates a new catalog holding `config` at `location` (a migration folder: one that does not
  // exist yet, or is empty). Refuses a location that already holds a migration.
  static Result<std::unique_ptr<Catalog>> Create(const std::string& location, const Config& config);
  // Opens the migration at `location` to work on it. Refuses a location that holds no migration,
  // a catalog from a newer ferry, and a migration another ferry process is working on (all
  // Code::kInvalidInput, with what to do about it).
  static Result<std::unique_ptr<Catalog>> Open(const std::string& location);
  // Opens the migration to read it, so it works while another ferry runs.
  // REQUIRES: no write method is called.
  static Result<std::unique_ptr<Catalog>> OpenForReading(const std::string& location);
  // Opens the migration for one of many workers that copy it at once, on a catalog many
  // machines reach (PostgreSQL): workers hold it together, none while a process holds it alone
  // (Open: a scan, a sync, a cutover), for which it waits, calling `waiting` first. A catalog
  // with one writer (a folder's) opens as Open does, and does not share work.
  static Result<std::unique_ptr<Catalog>> OpenAsWorker(const std::string& location,
                                                       const std::function<void()>& waiting = {});
  virtual ~Catalog() = default;

  const Config& config() const { return config_; }
  // Where the catalog lives, as the user named it.
  const std::string& location() const { return location_; }
  // A local folder for this process's working files (snapshots of the source).
  virtual std::string ScratchDir() const = 0;

  // When the migration was created (Unix ns).
  virtual Result<int64_t> CreatedNs() = 0;

  // A key/value note about the migration, read and written only by the stage that owns the key
  // (each keeps its own serialiser: CutoverRecord, HasBeenScanned, CheckSourceIdentity).
  virtual Result<std::string> GetMeta(const std::string& key) = 0;
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;

  // Runs. A run left "running" by a crashed process shows as "interrupted".
  virtual Result<int64_t> BeginRun(Stage stage) = 0;
  virtual Status EndRun(const Run& run) = 0;
  // An event appended to every run this process begins from now on: a setting in effect that
  // the log must show for each run (e.g. TLS verification turned off).
  void AnnotateRuns(std::string kind, std::string detail_json) {
    run_annotations_.emplace_back(std::move(kind), std::move(detail_json));
  }
  virtual Result<std::vector<Run>> Runs() = 0;

  // Items, ordered by path. `states` empty means every state.
  virtual Result<ItemCursor> Items(const std::vector<ItemState>& states = {}) = 0;
  // The items whose paths are at or after `from` and before `before` ("": no bound), as Items
  // gives them (by path, on a snapshot).
  virtual Result<ItemCursor> ItemsBetween(const std::string& from, const std::string& before) = 0;
  // Calls `visit` with each item in `states` (every state when empty), by path, on one snapshot;
  // stops at, and returns, the first error (of the catalog or of `visit`).
  Status ForEachItem(const std::vector<ItemState>& states,
                     const std::function<Status(Item&)>& visit);
  virtual Result<std::optional<Item>> FindItem(std::string_view path) = 0;
  // True if some item's path starts with `folder` + "/".
  virtual Result<bool> HasDescendants(std::string_view folder) = 0;
  virtual Result<std::vector<StateTotals>> Totals() = 0;
  // How many items the migration holds, counted no further than `most` (a count that stops
  // early costs a big catalog little).
  virtual Result<int64_t> CountItemsUpTo(int64_t most);
  // The items in `state` (with exactly this cause, when given).
  virtual Result<int64_t> CountItems(ItemState state,
                                     std::optional<std::string_view> cause = {}) = 0;

  struct ErrorGroup {
    ItemState state;
    std::string cause;
    int64_t items = 0;
    int64_t bytes = 0;
    std::vector<std::pair<std::string, std::string>> examples;  // path, reason
  };
  // Failed, conflict and skipped items grouped by cause, largest group first.
  virtual Result<std::vector<ErrorGroup>> ErrorGroups(int examples_per_group) = 0;

  // The event log, in order, filtered.
  virtual Result<EventCursor> Events(const EventFilter& filter = {}) = 0;
  // Re-walks the hash chain from the first event: each event must name the previous one's hash
  // and carry the hash of its own content. An edited or deleted row breaks it there.
  Result<ChainCheck> CheckChain();

  // The blobs trials wrote and have not cleaned up (under `prefix`, or all), by path.
  virtual Result<std::vector<TrialBlob>> TrialBlobs(
      std::optional<std::string_view> prefix = {}) = 0;
  virtual Status RecordTrialBlob(const TrialBlob& blob) = 0;
  virtual Status ForgetTrialBlob(std::string_view path) = 0;

  // Writes. Group many in one transaction for speed; every write is durable once committed.
  virtual Status BeginTransaction() = 0;
  virtual Status CommitTransaction() = 0;
  // Commits without waiting for the disk: a crash of the database's own server (not of ferry)
  // may lose this commit, and with it only those made after it, as a power cut may lose a
  // folder catalog's last commits. For writes a crash only makes ferry repeat: a copy's
  // outcomes (the write intents committed durably before them let it adopt what it wrote).
  virtual Status CommitTransactionLazily() { return CommitTransaction(); }
  // Undoes what the open transaction wrote (for a write that failed half way).
  virtual Status RollbackTransaction() = 0;
  virtual Status InsertItem(Item& item) = 0;  // sets item.id
  // Replaces everything but the path of an existing item (by id).
  virtual Status UpdateItem(const Item& item) = 0;
  // Appends to the event log; `detail_json` is a JSON object (any secret in it is redacted,
  // see RedactSecrets). Chains the event's hash.
  virtual Status AppendEvent(int64_t run, std::string_view path, std::string_view kind,
                             std::string_view detail_json) = 0;

  // ---- Work shared among workers (a catalog opened with OpenAsWorker that SharesWork) ----
  // A worker claims items before it copies them: a claim lasts its lease and is renewed by
  // Heartbeat, so no two live workers hold one item; the items of a worker that died come free
  // when its lease runs out, or at once when the catalog knows it is gone (its connection to
  // the database closed). An UpdateItem of a claimed item keeps the claim while the item
  // carries a write intent and gives it back otherwise (its outcome is recorded); a commit that
  // holds an update of an item whose claim another worker took over (this one was cut off for
  // longer than its lease) fails, and writes nothing.
  virtual bool SharesWork() const { return false; }
  // Registers this process as the worker of run `run`, its claims lasting `lease`, with an event
  // that names it.
  virtual Status JoinWork(int64_t run, std::chrono::seconds lease);
  // Claims up to `max` items in `states`, by path: items no live worker holds, and that no live
  // worker (this one included) has already tried in its run.
  virtual Result<std::vector<Item>> ClaimItems(const std::vector<ItemState>& states, int max);
  // Items in `states` that other live workers hold.
  virtual Result<int64_t> HeldElsewhere(const std::vector<ItemState>& states);
  // How many workers are live (this one included).
  virtual Result<int> LiveWorkers();
  // Renews this worker's claims and says it is alive, with `items` and `bytes` done; returns how
  // many workers are live (this one included). Fails when a claim was lost.
  virtual Result<int> Heartbeat(int64_t items, int64_t bytes);
  // Gives back the claims on items whose outcome this worker has not recorded; says it left.
  virtual Status LeaveWork();
  // The migration's workers, latest first (at most 100); empty for a catalog that does not share
  // work.
  virtual Result<std::vector<WorkerInfo>> Workers() { return std::vector<WorkerInfo>(); }

  // ---- A scan's listing shared among processes (a catalog that SharesListing) ----
  // The scan lists a folder source one folder at a time: it lists the root itself, and any
  // process that helps claims folders (with a lease, as items are claimed), lists each
  // (storage::Store::ListLevel) and records its entries and the folders in it to list next, in
  // one transaction; when no folder is left, the scan merges the recorded entries, by path, with
  // the catalog. An object store's listing is split by prefix instead: the scan records the
  // plan as the root (its levels' entries, and the prefixes as folders to list), and each
  // prefix is listed flat and recorded a batch at a time (RecordPart). The listing is open while
  // the scan that opened it holds the migration alone.
  // REQUIRES (each): no transaction open.
  virtual bool SharesListing() const { return false; }
  // Opens the listing of run `run` (a scan's): the root folder, for this process to list;
  // forgets earlier listings.
  virtual Status OpenListing(int64_t run);
  // The run whose listing is open (its scan running, and holding the migration), or 0.
  virtual Result<int64_t> OpenListingRun();
  // Claims up to `max` folders (never the root) of the listing of `run` that no lister holds
  // within its lease, each for `lease`, with what their parent's listing recorded of them.
  // Folders left to the scanning process (`scanner`) go to it alone.
  virtual Result<std::vector<FolderClaim>> ClaimFolders(int64_t run, int max,
                                                        std::chrono::seconds lease, bool scanner);
  // Gives back claims this process will not list; with `to_scanner`, for the scanning process
  // alone to list.
  virtual Status ReleaseFolders(int64_t run, const std::vector<std::string>& folders,
                                bool to_scanner);
  // Records listed folders in one transaction and returns how many: the first record of a
  // folder counts (one whose claim ran out may have been listed by another lister since).
  virtual Result<int> RecordFolders(int64_t run, const std::vector<ListedFolder>& listed);
  // Records a batch of a part of an object store's listing that this process claimed (a folder
  // whose path is the part's prefix, "dir/"), in one transaction with how far the part was
  // listed, and renews the claim for `lease` (the last batch marks it done). Returns false, and
  // records nothing, when the part is no longer this process's: another took it over after its
  // claim ran out, and goes on from the last batch recorded.
  virtual Result<bool> RecordPart(int64_t run, const ListedPart& part, std::chrono::seconds lease);
  // Folders of the listing not recorded yet.
  virtual Result<int64_t> FoldersLeft(int64_t run);
  // The recorded entries by path (byte order); what could not be read comes in its place as an
  // error, with Lister::Unlisted saying what it leaves unknown ("dir/" or "dir/name").
  virtual Result<std::unique_ptr<storage::Lister>> ListedEntries(int64_t run);
  // Forgets the listing of `run`.
  virtual Status CloseListing(int64_t run);

  // ---- A sync's copy shared with the processes that help it (a catalog that SharesListing) ----
  // The sync, holding the migration alone, leads: it copies as one worker of many (SharesWork),
  // and from the moment it joins the work (JoinWork, with its copy run) until it leaves it,
  // processes that help the sync join too (HelpCopy) and claim items as workers do. None claims
  // after the leader left; the leader then waits for the helpers' last items (Workers).
  // Makes this process, holding the migration alone in sync run `sync_run`, the copy's leader
  // until it leaves the work.
  virtual Status LeadCopy(int64_t sync_run);
  // The copy helpers may join now: the sync's and the leader's copy runs (the leader joined and
  // has not left, and the sync still holds the migration), or zeros.
  virtual Result<SharedCopy> OpenSharedCopy();
  // Whether run `run` is still running in the process that holds the migration alone.
  virtual Result<bool> RunHoldsMigration(int64_t run);
  // The sync run running in the process that holds the migration alone, or 0.
  virtual Result<int64_t> RunningSync();
  // Makes this process (a catalog opened for reading) a worker of the copy `copy`: it claims
  // only while the copy's leader has not left.
  virtual Status HelpCopy(const SharedCopy& copy);

  // ---- A sync's drift check shared with the processes that help it (a catalog that
  // SharesListing) ----
  // The sync, holding the migration alone, splits the target's listing into parts (prefixes);
  // it and any process that helps claim parts (with a lease), compare each part's listing with
  // the items under its prefix, and record what they found a batch at a time: each batch in one
  // transaction with the part's progress, committed only while the part is still theirs
  // (HoldDriftPart), so a part checked twice, after a lease ran out, is recorded once. From its
  // first claim, a process that helps (opened to read) has a transaction it leaves idle ended by
  // the server after 15 s, so that one frozen or cut off mid-batch holds nothing up for longer.
  // REQUIRES (each but HoldDriftPart): no transaction open.
  // Opens the drift check of run `run` (a sync's) with parts `prefixes`; forgets earlier ones.
  virtual Status OpenDriftCheck(int64_t run, const std::vector<std::string>& prefixes);
  // The run whose drift check is open (its sync running, and holding the migration) with parts
  // not done, or 0.
  virtual Result<int64_t> OpenDriftCheckRun();
  // Claims a part of the drift check of `run` that no process holds within its lease, for
  // `lease`; nullopt when there is none.
  virtual Result<std::optional<DriftPart>> ClaimDriftPart(int64_t run, std::chrono::seconds lease);
  // In the transaction that records a batch of the part with `prefix`: records that the paths up
  // to `checked_to` are checked, with `changed` and `unexpected` more found, and the part done
  // (`done`) or kept for another `lease`. Returns false when the part is no longer this
  // process's (another took it over, or the check is closed): the transaction must then be
  // rolled back. Until the commit, no other process can take the part over.
  virtual Result<bool> HoldDriftPart(int64_t run, const std::string& prefix,
                                     const std::string& checked_to, int64_t changed,
                                     int64_t unexpected, bool done, std::chrono::seconds lease);
  // Gives back this process's claim on the part with `prefix`, for another to take at once.
  virtual Status ReleaseDriftPart(int64_t run, const std::string& prefix);
  // The parts of the drift check of `run` and what they recorded.
  virtual Result<DriftTotals> DriftCheckTotals(int64_t run);
  // Forgets the drift check of `run`.
  virtual Status CloseDriftCheck(int64_t run);

 protected:
  Catalog() = default;
  // Appends the AnnotateRuns events to a run just begun.
  Status AnnotateRun(int64_t run);

  std::string location_;
  Config config_;

 private:
  std::vector<std::pair<std::string, std::string>> run_annotations_;
};

}  // namespace ferry::catalog
