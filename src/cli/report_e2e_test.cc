// The migration log and the HTML report end to end; the report is rendered by headless Chromium.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <set>
#include <sstream>
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
  EXPECT_NE(copied["why"][0].get<std::string>().find("no complete, clean verification"),
            std::string::npos);
  ASSERT_EQ(Ferry({"verify", Mig()}).exit_code, 0);
  nlohmann::json ready = verdict();
  EXPECT_EQ(ready["state"], "ready for cutover") << ready.dump();
  EXPECT_NE(ready.dump().find("1 item skipped"), std::string::npos) << ready.dump();
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  EXPECT_EQ(verdict()["state"], "ready for cutover") << "a sync that changed nothing";
  WriteFile(Src() + "/d0/late.txt", "late");
  ASSERT_EQ(Ferry({"sync", Mig()}).exit_code, 0);
  EXPECT_EQ(verdict()["state"], "in progress") << "a change since the verification";
  ASSERT_EQ(Ferry({"verify", Mig()}).exit_code, 0);
  EXPECT_EQ(verdict()["state"], "ready for cutover");

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

using LiveTest = MigrationFixture;

// What the endpoint at `url` answers, read by Node's own HTTP client.
std::string Scrape(const std::string& url) {
  auto r = RunProcess(
      {"node", "-e",
       "require('http').get(process.argv[1], r => { let d = ''; r.on('data', c => d += c); "
       "r.on('end', () => process.stdout.write(d)); }).on('error', e => { "
       "process.stderr.write(e.message); process.exit(1); })",
       url});
  return r.exit_code == 0 ? r.out : "";
}

// The value of one sample line of Prometheus text ("name{labels} value"), or -1.
double Sample(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// A long copy serves live Prometheus metrics while it runs, and writes JSON progress lines on
// stdout for scripts.
TEST_F(LiveTest, ACopyServesMetricsMidRunAndPrintsJsonLines) {
  for (int i = 0; i < 20; ++i)
    AddFile(fmt::format("f{:02d}", i), std::string(1 << 20, char('a' + i)));
  Init();
  const int port = FreeLoopbackPort();
  const std::string url = fmt::format("http://127.0.0.1:{}/metrics", port);
  BackgroundProcess copy(FerryArgv({"copy", Mig(), "--max-bandwidth", "4MiB/s", "--metrics-listen",
                                    fmt::format("127.0.0.1:{}", port), "--progress", "json",
                                    "--progress-interval", "200ms"}),
                         FerryOptions(env_));
  std::string mid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && copy.Running()) {
    std::string text = "\n" + Scrape(url);
    double done = Sample(text, "ferry_files{state=\"done\"}");
    if (done > 0 && done < 20) {
      mid = text;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(mid.empty()) << "no scrape caught the copy half done";
  EXPECT_EQ(Sample(mid, "ferry_stage{stage=\"copy\"}"), 1) << mid;
  EXPECT_EQ(Sample(mid, "ferry_files{state=\"total\"}"), 20) << mid;
  EXPECT_EQ(Sample(mid, "ferry_bytes{state=\"total\"}"), 20 << 20) << mid;
  EXPECT_GT(Sample(mid, "ferry_bytes_per_second"), 0) << mid;
  EXPECT_GE(Sample(mid, "ferry_throttled_seconds_total"), 0) << mid;
  EXPECT_GT(Sample(mid, "ferry_streams"), 0) << mid;

  ProcessResult done = copy.Wait();
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.err.find("copied 20 files"), std::string::npos) << "text on stderr";
  std::istringstream lines(done.out);
  std::vector<nlohmann::json> progress;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    progress.push_back(j);
  }
  ASSERT_GE(progress.size(), 3u) << done.out;
  EXPECT_EQ(progress.back()["final"], true);
  EXPECT_EQ(progress.back()["files_done"], 20);
  EXPECT_EQ(progress.back()["bytes_done"], 20 << 20);
  EXPECT_EQ(progress.front()["stage"], "copy");
  EXPECT_LT(progress.front()["files_done"].get<int>(), 20) << "lines while it ran";

  auto taken = Ferry({"sync", Mig(), "--metrics-listen", "256.0.0.1:1"});
  EXPECT_EQ(taken.exit_code, 2) << taken.err;
  EXPECT_NE(taken.err.find("--metrics-listen 256.0.0.1:1: cannot listen there"), std::string::npos)
      << taken.err;
}

using AuditTest = MigrationFixture;

// The findings of audit-target for a container set up with @azure/storage-blob.
std::map<std::string, std::string> AuditFindings(const nlohmann::json& audit) {
  std::map<std::string, std::string> by_text;  // finding -> severity
  for (const auto& f : audit["findings"]) by_text[f["finding"]] = f["severity"];
  return by_text;
}

bool Has(const std::map<std::string, std::string>& findings, const std::string& part,
         const std::string& severity) {
  for (const auto& [text, level] : findings) {
    if (text.find(part) != std::string::npos && level == severity) return true;
  }
  return false;
}

TEST_F(AuditTest, PublicAccessPoliciesSoftDeleteAndTheCredentialAreAudited) {
  AddFile("a.txt", "a");
  Init();
  RunChecker(Azurite::Global(), {"access", container_, "container", "forever"});
  RunChecker(Azurite::Global(),
             {"service", "-", R"({"deleteRetentionPolicy": {"enabled": false}})"});
  auto open = Ferry({"audit-target", Mig(), "--json"});
  ASSERT_EQ(open.exit_code, 0) << open.err;
  const auto findings = AuditFindings(nlohmann::json::parse(open.out));
  EXPECT_TRUE(Has(findings, "anyone can list and read the container", "high")) << open.out;
  EXPECT_TRUE(Has(findings, "stored access policy 'forever'", "medium")) << open.out;
  EXPECT_TRUE(Has(findings, "blob soft delete is off", "high")) << open.out;
  EXPECT_TRUE(Has(findings, "plain http", "high")) << open.out;
  EXPECT_TRUE(Has(findings, "account key", "medium")) << open.out;
  auto strict = Ferry({"audit-target", Mig(), "--strict"});
  EXPECT_EQ(strict.exit_code, 3) << strict.out;
  EXPECT_NE(strict.out.find("identity and access:"), std::string::npos) << strict.out;
  EXPECT_NE(strict.out.find("fix: az storage container set-permission"), std::string::npos);

  // Closed and protected: those findings go.
  RunChecker(Azurite::Global(), {"access", container_, "off"});
  RunChecker(Azurite::Global(),
             {"service", "-", R"({"deleteRetentionPolicy": {"enabled": true, "days": 14}})"});
  auto closed = Ferry({"audit-target", Mig(), "--json"});
  const auto after = AuditFindings(nlohmann::json::parse(closed.out));
  RunChecker(Azurite::Global(),
             {"service", "-", R"({"deleteRetentionPolicy": {"enabled": false}})"});
  EXPECT_FALSE(Has(after, "anyone can", "high")) << closed.out;
  EXPECT_FALSE(Has(after, "stored access policy", "medium")) << closed.out;
  EXPECT_FALSE(Has(after, "soft delete is off", "high")) << closed.out;
  EXPECT_TRUE(Has(after, "plain http", "high")) << "Azurite speaks http";

  // A SAS valid for a month outlives the migration.
  std::string sas = RunChecker(Azurite::Global(), {"sas", container_, "2592000"})["sas"];
  auto with_sas = RunFerry({"audit-target", Mig(), "--json"}, {{"AZURE_STORAGE_SAS_TOKEN", sas}});
  ASSERT_EQ(with_sas.exit_code, 0) << with_sas.err;
  const auto sas_findings = AuditFindings(nlohmann::json::parse(with_sas.out));
  EXPECT_TRUE(Has(sas_findings, "signs in with a SAS", "medium")) << with_sas.out;
  EXPECT_TRUE(Has(sas_findings, "long after the migration", "medium")) << with_sas.out;
  EXPECT_EQ(with_sas.out.find("sig="), std::string::npos) << "the SAS itself is never shown";

  const nlohmann::json facts = nlohmann::json::parse(Ferry({"report", Mig(), "--json"}).out);
  EXPECT_EQ(facts["audit"]["findings"].size(),
            nlohmann::json::parse(with_sas.out)["findings"].size())
      << "the report shows the last audit";
  std::string html = dir_.Sub("report.html");
  ASSERT_EQ(Ferry({"report", Mig(), "--html", html}).exit_code, 0);
  EXPECT_NE(ReadFile(html).find("long after the migration"), std::string::npos);

  TempDir folder;
  WriteFile(folder.Sub("src/x"), "x");
  ASSERT_EQ(
      Ferry({"init", folder.Sub("m"), "--source", folder.Sub("src"), "--target", folder.Sub("t")})
          .exit_code,
      0);
  auto local = Ferry({"audit-target", folder.Sub("m")});
  EXPECT_EQ(local.exit_code, 2);
  EXPECT_NE(local.err.find("audits an Azure Blob target"), std::string::npos) << local.err;
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
