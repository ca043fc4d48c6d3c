// The migration log and the HTML report end to end; the report is rendered by headless Chromium.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <set>
#include <thread>

#include "support/migration_fixture.h"

namespace ferry::testing {
namespace {

using LogTest = MigrationFixture;
using ReportTest = MigrationFixture;

std::vector<std::string> Kinds(const nlohmann::json& log) {
  std::vector<std::string> kinds;
  for (const auto& e : log["events"]) kinds.push_back(e["kind"]);
  return kinds;
}

TEST_F(LogTest, AnEditedOrDeletedEventBreaksTheChainThere) {
  for (int i = 0; i < 5; ++i) AddFile(fmt::format("f{}", i), "x");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  auto intact = Ferry({"log", Mig(), "--check"});
  ASSERT_EQ(intact.exit_code, 0) << intact.out;
  std::smatch head;
  ASSERT_TRUE(std::regex_search(intact.out, head, std::regex("head hash ([0-9a-f]{64})")));

  std::string db = Mig() + "/catalog.db";
  TempDir saved;
  std::string backup = saved.Sub("catalog.db");
  ASSERT_EQ(RunProcess({"sqlite3", db, ".backup " + backup}).exit_code, 0);

  auto edit =
      RunProcess({"sqlite3", db, "UPDATE events SET detail = '{\"size\":999}' WHERE id = 5"});
  ASSERT_EQ(edit.exit_code, 0) << edit.err;
  auto edited = Ferry({"log", Mig(), "--check"});
  EXPECT_EQ(edited.exit_code, 3);
  EXPECT_NE(edited.out.find("event 5 "), std::string::npos) << edited.out;
  EXPECT_NE(edited.out.find("edited"), std::string::npos) << edited.out;

  // From the untouched copy, delete one row: the chain breaks at the row after it.
  ASSERT_EQ(RunProcess({"sqlite3", db, ".restore " + backup}).exit_code, 0);
  EXPECT_EQ(Ferry({"log", Mig(), "--check"}).exit_code, 0) << "restored intact";
  ASSERT_EQ(RunProcess({"sqlite3", db, "DELETE FROM events WHERE id = 9"}).exit_code, 0);
  auto gap = Ferry({"log", Mig(), "--check"});
  EXPECT_EQ(gap.exit_code, 3);
  EXPECT_NE(gap.out.find("event 10 "), std::string::npos) << gap.out;
  EXPECT_NE(gap.out.find("deleted"), std::string::npos) << gap.out;
}

TEST_F(LogTest, AFilesHistoryListsCopyChangeSyncAndVerifyInOrder) {
  AddFile("doc.txt", "first version");
  AddFile("other.txt", "other");
  Init();
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  WriteFile(Src() + "/doc.txt", "second, longer version");
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  ASSERT_EQ(Ferry({"verify", Mig()}).exit_code, 0);

  auto history = Ferry({"log", Mig(), "--path", "doc.txt", "--json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  auto log = nlohmann::json::parse(history.out);
  EXPECT_EQ(Kinds(log), (std::vector<std::string>{"discovered", "copied", "changed-at-source",
                                                  "recopied", "verified"}));
  auto runs = Status()["runs"];
  std::map<int64_t, std::string> stage;
  for (const auto& r : runs) stage[r["run"]] = r["stage"];
  std::vector<std::string> stages;
  for (const auto& e : log["events"]) stages.push_back(stage[e["run"].get<int64_t>()]);
  EXPECT_EQ(stages, (std::vector<std::string>{"scan", "copy", "sync", "sync", "verify"}));
  for (const auto& e : log["events"]) EXPECT_EQ(e["path"], "doc.txt");
  EXPECT_EQ(log["events"][3]["detail"]["size"], std::string("second, longer version").size());

  auto csv = Ferry({"log", Mig(), "--path", "doc.txt", "--csv"});
  EXPECT_EQ(Lines(csv.out), 6) << csv.out;  // header and five events
  EXPECT_TRUE(csv.out.starts_with("id,time,run,kind,path,detail,hash\n"));
  EXPECT_EQ(Ferry({"log", Mig(), "--since", "yesterday"}).exit_code, 2);
  auto recent = Ferry({"log", Mig(), "--since", "1h", "--run", "1"});
  EXPECT_EQ(recent.exit_code, 0);
  EXPECT_NE(recent.out.find("init"), std::string::npos) << recent.out;
}

TEST_F(LogTest, AFailureAndItsLaterResolutionBothShow) {
  std::mt19937_64 rng(4);
  WriteFile(Src() + "/busy.bin", Random(8 << 20, rng));
  Init();
  ASSERT_EQ(Ferry({"scan", Mig()}).exit_code, 0);
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    while (writing) {
      std::ofstream(Src() + "/busy.bin", std::ios::app) << "x";
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  auto first = Ferry({"copy", Mig()});
  writing = false;
  writer.join();
  EXPECT_EQ(first.exit_code, 1);
  EXPECT_NE(Ferry({"errors", Mig()}).out.find("kept changing"), std::string::npos);
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  EXPECT_EQ(Ferry({"errors", Mig()}).out.find("kept changing"), std::string::npos);
  auto log = nlohmann::json::parse(Ferry({"log", Mig(), "--path", "busy.bin", "--json"}).out);
  EXPECT_EQ(Kinds(log), (std::vector<std::string>{"discovered", "failed", "copied"}));
}

// Renders `html` in headless Chromium, logging its network activity; returns the DOM.
std::string RenderInChromium(const std::string& html, const std::string& netlog,
                             const std::string& profile) {
  ::unlink(netlog.c_str());
  auto r = RunProcess({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                       "--no-first-run", "--disable-background-networking",
                       "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
                       "--log-net-log=" + netlog, "--dump-dom", "file://" + html});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// The URLs of requests a page started, from a Chromium network log.
std::vector<std::string> PageRequests(const std::string& netlog_path) {
  auto log = nlohmann::json::parse(ReadFile(netlog_path), nullptr, false);
  EXPECT_FALSE(log.is_discarded()) << "unreadable network log " << netlog_path;
  std::vector<std::string> urls;
  if (log.is_discarded()) return urls;
  for (const auto& e : log["events"]) {
    if (!e.contains("params")) continue;
    const auto& p = e["params"];
    if (p.contains("initiator") && p.contains("url") && p["initiator"] != "not an origin") {
      std::string url = p["url"];
      if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
    }
  }
  return urls;
}

TEST_F(ReportTest, TheHtmlReportRendersEveryChartWithDataAndRequestsNothing) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 400; ++i)
    AddFile(fmt::format("area{}/f{:03d}", i % 4, i), Random(30'000, rng));
  WriteLarge(Src() + "/area0/large.bin", 96ull << 20, 2);
  ASSERT_EQ(::symlink("area0", (Src() + "/link").c_str()), 0);
  Init();
  ASSERT_EQ(Ferry({"copy", Mig(), "--concurrency", "4"}).exit_code, 0);
  WriteFile(Src() + "/area1/new.txt", "new");
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  ASSERT_EQ(Ferry({"verify", Mig()}).exit_code, 0);

  std::string html = dir_.Sub("report.html");
  auto written = Ferry({"report", Mig(), "--html", html});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  std::string page = ReadFile(html);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(std::regex_search(page, std::regex(R"((src|href)\s*=)")), false)
      << "the report loads nothing";

  std::string dom = RenderInChromium(html, dir_.Sub("netlog.json"), dir_.Sub("profile"));
  std::map<std::string, int> points;
  std::regex chart(R"re(<svg class="chart" id="([^"]+)" data-points="(\d+)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), chart); it != std::sregex_iterator();
       ++it) {
    points[(*it)[1]] = std::stoi((*it)[2]);
  }
  bool throughput = false;
  for (const auto& [id, n] : points) {
    if (id.starts_with("throughput-run-")) throughput |= n >= 2;
  }
  EXPECT_TRUE(throughput) << dom.substr(0, 2000);
  EXPECT_GE(points["sync-deltas"], 1);
  EXPECT_GE(points["errors-by-cause"], 1);
  EXPECT_NE(dom.find("<path d=\"M"), std::string::npos) << "a line was drawn";

  // Chromium's network log: the page started no request (the browser's own background
  // requests carry initiator "not an origin").
  EXPECT_EQ(PageRequests(dir_.Sub("netlog.json")), std::vector<std::string>{});
  // The same check sees a page that does fetch something.
  WriteFile(dir_.Sub("leaky.html"),
            "<html><body><img src=\"http://127.0.0.1:9/pixel.png\"></body></html>");
  RenderInChromium(dir_.Sub("leaky.html"), dir_.Sub("netlog-leaky.json"), dir_.Sub("profile2"));
  EXPECT_EQ(PageRequests(dir_.Sub("netlog-leaky.json")),
            std::vector<std::string>{"http://127.0.0.1:9/pixel.png"});

  auto json = Ferry({"report", Mig(), "--json"});
  ASSERT_EQ(json.exit_code, 0);
  auto facts = nlohmann::json::parse(json.out);
  EXPECT_EQ(facts["totals"]["copied"]["items"], Status()["states"]["copied"]["items"]);
  EXPECT_EQ(facts["sync_deltas"].size(), 2u);
  EXPECT_EQ(facts["log"]["intact"], true);
  EXPECT_EQ(facts["log"]["head_hash"].get<std::string>().size(), 64u);
  EXPECT_NE(page.find(facts["log"]["head_hash"].get<std::string>()), std::string::npos);
}

// The counts a new user compares: files, with folders and links apart, the same in copy,
// status and report.
TEST_F(ReportTest, CopyStatusAndReportCountTheSameFiles) {
  for (int i = 0; i < 12; ++i) AddFile(fmt::format("a/b{}/f{}", i % 3, i), "x");
  ASSERT_EQ(::mkdir((Src() + "/empty").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("a", (Src() + "/link").c_str()), 0);
  Init();
  auto copy = Ferry({"copy", Mig(), "--json"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  const nlohmann::json copied = nlohmann::json::parse(copy.out);
  EXPECT_EQ(copied["copied"], 12);
  EXPECT_EQ(copied["folders"], 5) << "a, a/b0, a/b1, a/b2 and the empty one";
  EXPECT_NE(copy.err.find("copied 12 files"), std::string::npos) << copy.err;

  const nlohmann::json status = Status();
  EXPECT_EQ(status["states"]["copied"]["files"], copied["copied"]);
  EXPECT_EQ(status["states"]["copied"]["folders"], copied["folders"]);
  EXPECT_EQ(status["states"]["skipped"]["links"], 1);
  EXPECT_EQ(status["states"]["skipped"]["files"], 0);
  const nlohmann::json report = nlohmann::json::parse(Ferry({"report", Mig(), "--json"}).out);
  EXPECT_EQ(report["totals"]["copied"]["files"], copied["copied"]);
  EXPECT_EQ(report["totals"]["copied"]["folders"], copied["folders"]);
  const nlohmann::json& runs = status["runs"];
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs.back()["files"], copied["copied"]) << "the run's files, as status lists it";
  const nlohmann::json& days = report["progress_by_day"];
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0]["files"], copied["copied"]);
  EXPECT_EQ(days[0]["bytes"], 12);

  // The one rate: the copy's summary in IEC units, as status shows it.
  EXPECT_EQ(copy.err.find("MB/s"), std::string::npos) << copy.err;
  auto text = Ferry({"status", Mig()});
  EXPECT_NE(text.out.find("1 item skipped"), std::string::npos) << text.out;
}

// The report opens with a verdict a manager can read at a glance: in progress, ready for
// cutover, needs attention (and why), rendered by Chromium; it prints on A4 pages.
TEST_F(ReportTest, TheReportOpensWithAVerdictAndPrintsOnA4) {
  for (int i = 0; i < 30; ++i) AddFile(fmt::format("d{}/f{:02d}.txt", i % 3, i), "data");
  ASSERT_EQ(::symlink("d0", (Src() + "/link").c_str()), 0);
  Init();
  auto verdict = [&] {
    auto r = Ferry({"report", Mig(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["verdict"];
  };
  EXPECT_EQ(verdict()["state"], "in progress") << "not even scanned";
  ASSERT_EQ(Ferry({"copy", Mig()}).exit_code, 0);
  nlohmann::json copied = verdict();
  EXPECT_EQ(copied["state"], "in progress") << copied.dump();
  EXPECT_NE(copied["why"][0].get<std::string>().find("not verified"), std::string::npos);
  ASSERT_EQ(Ferry({"verify", Mig()}).exit_code, 0);
  nlohmann::json ready = verdict();
  EXPECT_EQ(ready["state"], "ready for cutover") << ready.dump();
  EXPECT_NE(ready.dump().find("1 item skipped"), std::string::npos) << ready.dump();

  // Someone rewrites two blobs behind the migration's back: verify finds them.
  RunChecker(Azurite::Global(), {"put", container_, "share/d0/f00.txt", "changed"});
  RunChecker(Azurite::Global(), {"put", container_, "share/d1/f01.txt", "changed"});
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 3);
  nlohmann::json attention = verdict();
  EXPECT_EQ(attention["state"], "needs attention") << attention.dump();
  EXPECT_NE(attention.dump().find("found 2 mismatches"), std::string::npos) << attention.dump();

  std::string html = dir_.Sub("report.html");
  ASSERT_EQ(Ferry({"report", Mig(), "--html", html}).exit_code, 0);
  std::string dom = RenderInChromium(html, dir_.Sub("netlog.json"), dir_.Sub("profile"));
  size_t at = dom.find("id=\"verdict\"");
  ASSERT_NE(at, std::string::npos) << dom.substr(0, 2000);
  EXPECT_LT(at, dom.find("<h2>")) << "the verdict comes before every section";
  EXPECT_NE(dom.find("data-verdict=\"needs attention\""), std::string::npos);
  EXPECT_NE(dom.find("found 2 mismatches"), std::string::npos);
  EXPECT_EQ(dom.find(" 1 items"), std::string::npos) << "a count of one is singular";
  // The skipped link is grey, not an error's red.
  std::smatch bar;
  ASSERT_TRUE(std::regex_search(
      dom, bar, std::regex(R"re(skipped: symbolic link</text><rect [^>]*fill="([^"]+)")re")))
      << dom;
  EXPECT_EQ(bar[1], "#9e9e9e");

  std::string pdf = dir_.Sub("report.pdf");
  auto printed =
      RunProcess({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--user-data-dir=" + dir_.Sub("profile-print"),
                  "--no-pdf-header-footer", "--print-to-pdf=" + pdf, "file://" + html});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  std::string pages = ReadFile(pdf);
  std::regex media(R"(/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\])");
  int boxes = 0;
  for (auto it = std::sregex_iterator(pages.begin(), pages.end(), media);
       it != std::sregex_iterator(); ++it, ++boxes) {
    EXPECT_NEAR(std::stod((*it)[1]), 595.3, 1.0) << "A4 is 210 mm wide";
    EXPECT_NEAR(std::stod((*it)[2]), 841.9, 1.0) << "and 297 mm high";
  }
  EXPECT_GE(boxes, 1) << "no page in the PDF";
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

using TrialTest = MigrationFixture;

std::set<std::string> TrialBlobs(const std::string& container) {
  std::set<std::string> names;
  for (const auto& b : RunChecker(Azurite::Global(), {"list", container, "share/ferry-trial/"})) {
    names.insert(b["name"]);
  }
  return names;
}

TEST_F(TrialTest, ARepresentativeReproducibleSampleAndAProjectionWithinTwofold) {
  auto made =
      RunProcess({"node", std::string(FERRY_SOURCE_DIR) + "/scripts/sample_tree.mjs", Src()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  Init();

  auto trial = Ferry({"trial", Mig(), "--sample", "10%", "--seed", "42", "--json"});
  ASSERT_EQ(trial.exit_code, 0) << trial.out << trial.err;
  auto t = nlohmann::json::parse(trial.out);
  EXPECT_EQ(t["seed"], 42);
  EXPECT_EQ(t["strata_sampled"], t["strata"]);
  EXPECT_EQ(t["size_buckets_sampled"], t["size_buckets"]);
  EXPECT_EQ(t["top_folders_sampled"], t["top_folders"]);
  EXPECT_GE(t["size_buckets"].get<int>(), 5);
  EXPECT_GE(t["top_folders"].get<int>(), 6);
  EXPECT_EQ(t["verified"], t["files"]);
  EXPECT_EQ(t["unstorable_names"], 2);
  std::set<std::string> first = TrialBlobs(container_);
  EXPECT_EQ(int64_t(first.size()), t["files"].get<int64_t>());

  auto status = Status();
  EXPECT_EQ(status["states"]["copied"]["items"], 0) << "a trial marks no real item copied";

  auto cleanup = Ferry({"trial", Mig(), "--cleanup"});
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.err;
  EXPECT_TRUE(TrialBlobs(container_).empty());
  auto again = Ferry({"trial", Mig(), "--sample", "10%", "--seed", "42"});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_EQ(TrialBlobs(container_), first) << "the same seed, the same sample";
  auto other = Ferry({"trial", Mig(), "--sample", "10%", "--seed", "43", "--cleanup"});
  ASSERT_EQ(other.exit_code, 0);
  EXPECT_TRUE(TrialBlobs(container_).empty()) << "--cleanup after a trial removes it";

  // The real copy, timed the way the projection is meant.
  auto start = std::chrono::steady_clock::now();
  auto copy = Ferry({"copy", Mig()});
  double real = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(copy.exit_code, 0) << copy.out;
  double projected = t["projected_seconds"];
  EXPECT_GT(projected, real / 2) << "projected " << projected << " s, real " << real << " s";
  EXPECT_LT(projected, real * 2) << "projected " << projected << " s, real " << real << " s";

  // Trial blobs left beside the migration are not mistaken for someone else's.
  ASSERT_EQ(Ferry({"trial", Mig(), "--sample", "20"}).exit_code, 0);
  EXPECT_EQ(Ferry({"verify", Mig()}).exit_code, 0);
  EXPECT_EQ(Ferry({"trial", Mig(), "--sample", "lots"}).exit_code, 2);
}

}  // namespace
}  // namespace ferry::testing
