// ClamAV in mailsan-filter end to end (SPEC §3): a real Postfix whose
// port-25 smtpd hands every message to mailsan-filter as the shipped
// etc/postfix/master.cf.filter wires it, the filter scanning with libclamav
// from a signature database the test builds, and the after-filter smtpd
// taking what the filter relays. Also the daemon's start-up with a missing
// or empty database.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test/support/clamav_db.hpp"
#include "test/support/filter_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {
namespace {

// The test's signature database, written before the filter starts.
struct SignatureDir {
  SignatureDir() { write_test_clamav_db(dir.path()); }
  TempDir dir{"mailsan-clamdb"};
};

// Front Postfix → mailsan-filter (ClamAV only) → after-filter smtpd.
struct ClamavStack {
  explicit ClamavStack(const std::string& clamav_options = "")
      : after_port(free_tcp_port()),
        filter(filter_settings(clamav_options)),
        mx(postfix_settings()) {}

  FilterSettings filter_settings(const std::string& clamav_options) {
    FilterSettings s;
    s.redis = redis.address();
    s.next_hop_port = after_port;
    s.marker = false;
    s.clamav = true;
    s.extra_sections = "[clamav]\ndb_dir = " + db.dir.path().string() +
                       "\nreload_check_interval = 1\n" + clamav_options;
    return s;
  }
  PostfixSettings postfix_settings() {
    PostfixSettings s;
    s.name = "clamav-mx";
    ShippedWiring wiring = shipped_wiring(filter.port(), after_port);
    s.smtpd_options = wiring.smtpd_options;
    s.extra_master_cf = wiring.after_filter_service;
    return s;
  }
  std::string metrics() const {
    return run({"curl", "-s",
                "http://127.0.0.1:" + std::to_string(filter.metrics_port()) + "/metrics"})
        .output;
  }

  SignatureDir db;
  RedisServer redis;
  unsigned short after_port;
  FilterProcess filter;
  PostfixInstance mx;
};

SwaksMessage message(const std::string& subject, const std::string& body = "") {
  SwaksMessage m;
  m.from = "alice@remote.test";
  m.to = {"bob@example.test"};
  m.headers = {"Subject: " + subject};
  m.body = body.empty() ? "Hello Bob,\nlunch at noon?\nAlice\n" : body;
  return m;
}

SwaksMessage with_attachment(const std::string& subject, const std::filesystem::path& file) {
  SwaksMessage m = message(subject);
  m.extra_args = {"--attach", file.string()};
  return m;
}

std::string refused(std::string_view virus) {
  return "554 5.7.1 Rejected: virus " + std::string(virus) + " found";
}

// The sample files, made in a directory of the test's.
struct Samples {
  Samples() {
    write_file(dir.path() / "eicar.com", std::string(kEicar));
    auto zipped = run({"zip", "-j", "-q", (dir.path() / "eicar.zip").string(),
                       (dir.path() / "eicar.com").string()});
    REQUIRE(zipped.exit_code == 0);
    write_file(dir.path() / "notes.txt", "Minutes of the meeting.\n");
  }
  std::filesystem::path operator/(const std::string& name) const { return dir.path() / name; }
  TempDir dir{"mailsan-samples"};
};

}  // namespace

TEST_CASE(
    "EICAR in the body, zipped or attached is refused at end-of-DATA and nothing is "
    "queued",
    "[postfix][clamav]") {
  ClamavStack stack;
  Samples samples;
  struct Case {
    const char* what;
    SwaksMessage m;
    std::string_view virus;
  };
  std::vector<Case> cases = {
      {"plain body", message("eicar body", "Hello,\n" + std::string(kEicar) + "\nbye\n"),
       kEicarVirus},
      {"zipped attachment", with_attachment("eicar zip", samples / "eicar.zip"), kEicarVirus},
      {"base64 attachment", with_attachment("eicar attached", samples / "eicar.com"), kEicarVirus},
      {"clam.zip attachment", with_attachment("clam zip", clamav_testfiles_dir() / "clam.zip"),
       kClamTestVirus},
  };
  for (const auto& c : cases) {
    auto sent = stack.mx.send(c.m);
    INFO(c.what << "\n" << sent.transcript << "\n--- filter:\n" << stack.filter.log());
    CHECK(sent.transcript.find("<** 554 5.7.1 Rejected: virus") != std::string::npos);
    CHECK(sent.transcript.find(refused(c.virus)) != std::string::npos);
    CHECK(sent.exit_code != 0);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  INFO(stack.mx.diagnostics());
  CHECK(stack.mx.queued() == 0);
  CHECK(stack.mx.delivered().empty());
  std::string metrics = stack.metrics();
  CHECK(metrics.find("mailsan_filter_clamav_scans_total{result=\"virus\"} 4") != std::string::npos);
}

TEST_CASE("clean mail, with or without an attachment, is delivered with X-Virus-Scanned",
          "[postfix][clamav]") {
  ClamavStack stack;
  Samples samples;
  auto plain = stack.mx.send(message("plain"));
  INFO(plain.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(plain.exit_code == 0);
  auto attached = stack.mx.send(with_attachment("attached", samples / "notes.txt"));
  INFO(attached.transcript);
  REQUIRE(attached.exit_code == 0);
  auto delivered = stack.mx.wait_for_delivered(2);
  INFO(stack.mx.diagnostics());
  REQUIRE(delivered.size() == 2);
  for (const auto& m : delivered) {
    CHECK(m.headers("X-Virus-Scanned") == std::vector<std::string>{"mailsan-filter at mx1.test"});
    // Only a spam scorer writes X-Spam-*; none runs here.
    CHECK(m.headers("X-Spam-Status").empty());
  }
  CHECK(stack.filter.log().find("scanners=clamav") != std::string::npos);
}

TEST_CASE("a message over clamav.max_scan_size is delivered saying it was not scanned, and why",
          "[postfix][clamav]") {
  ClamavStack stack("max_scan_size = 1k\n");
  std::string body;
  while (body.size() < 4096) body += "Minutes of the meeting, one more line of them.\n";
  auto sent = stack.mx.send(message("long minutes", body));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  auto delivered = stack.mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("X-Virus-Scanned") ==
        std::vector<std::string>{"no (larger than clamav.max_scan_size)"});
  CHECK(stack.metrics().find("mailsan_filter_unchecked_total{check=\"virus\"} 1") !=
        std::string::npos);
}

TEST_CASE("with virus_action = quarantine a virus is accepted, kept and never delivered",
          "[postfix][clamav][quarantine]") {
  ClamavStack stack("virus_action = quarantine\n");
  Samples samples;
  auto sent = stack.mx.send(with_attachment("worm", samples / "eicar.zip"));
  INFO(sent.transcript << "\n--- filter:\n" << stack.filter.log());
  REQUIRE(sent.exit_code == 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(stack.mx.delivered().empty());
  CHECK(stack.mx.queued() == 0);
  auto ids = stack.filter.quarantined();
  REQUIRE(ids.size() == 1);
  std::string record = read_file(stack.filter.quarantine_dir() / ids[0] / "record.json");
  CHECK(record.find(std::string(kEicarVirus)) != std::string::npos);
}

TEST_CASE("a signature reload while mail flows loses nothing and tempfails nothing",
          "[postfix][clamav][reload]") {
  ClamavStack stack;
  const std::string marker = "MAILSAN-RELOAD-TEST-SIGNATURE-5d21e0";
  // Senders keep going until the reload is over, so that mail is in
  // flight before, while and after the new engine is built and swapped.
  constexpr int kSenders = 4, kMost = 40;
  std::atomic<bool> reloaded{false};
  std::vector<std::vector<SwaksResult>> results(kSenders);
  std::vector<std::thread> senders;
  auto is_virus = [](int s, int i) { return (s + i) % 3 == 0; };
  for (int s = 0; s < kSenders; ++s)
    senders.emplace_back([&, s] {
      int after_reload = 0;
      for (int i = 0; i < kMost && after_reload < 2; ++i) {
        if (reloaded) ++after_reload;
        std::string subject = "stream " + std::to_string(s) + "-" + std::to_string(i);
        results[s].push_back(
            stack.mx.send(is_virus(s, i) ? message(subject, "Hi,\n" + std::string(kEicar) + "\n")
                                         : message(subject)));
      }
    });
  // While they send: a new signature and 200,000 others, so that the new
  // engine takes a while to build.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  add_filler_signatures(stack.db.dir.path(), "filler", 200000);
  add_clamav_signature(stack.db.dir.path(), "extra", "Mailsan-Reload-Test", marker);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // Both files may come in one reload or two; the second is the last.
  const std::string done =
      "clamav_reloaded db_dir=" + stack.db.dir.path().string() + " signatures=200003";
  while (stack.filter.log().find(done) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  reloaded = true;
  for (auto& t : senders) t.join();

  std::size_t ham = 0, viruses = 0;
  for (int s = 0; s < kSenders; ++s)
    for (int i = 0; i < static_cast<int>(results[s].size()); ++i) {
      const auto& r = results[s][i];
      INFO(r.transcript << "\n--- filter:\n" << stack.filter.log());
      CHECK(r.transcript.find("<** 4") == std::string::npos);  // no tempfail
      if (is_virus(s, i)) {
        CHECK(r.transcript.find(refused(kEicarVirus)) != std::string::npos);
        ++viruses;
      } else {
        CHECK(r.exit_code == 0);
        ++ham;
      }
    }
  auto delivered = stack.mx.wait_for_delivered(ham, std::chrono::seconds(30));
  INFO(stack.mx.diagnostics());
  CHECK(delivered.size() == ham);

  std::string log = stack.filter.log();
  REQUIRE(log.find(done) != std::string::npos);
  auto line = log.substr(log.find(done));
  line = line.substr(0, line.find('\n'));
  auto after = stack.mx.send(message("after the reload", "Hi,\n" + marker + "\n"));
  INFO(after.transcript << "\n--- filter:\n" << stack.filter.log());
  CHECK(after.transcript.find(refused("Mailsan-Reload-Test.UNOFFICIAL")) != std::string::npos);
  std::string metrics = stack.metrics();
  CHECK(metrics.find("mailsan_filter_clamav_reloads_total{outcome=\"ok\"}") != std::string::npos);
  CHECK(metrics.find("mailsan_filter_clamav_reloads_total{outcome=\"failed\"}") ==
        std::string::npos);
  CHECK(metrics.find("mailsan_filter_clamav_signatures 200003") != std::string::npos);
  CHECK(metrics.find("mailsan_filter_scanner_failures_total") == std::string::npos);
  WARN(ham << " clean messages delivered and " << viruses
           << " refused around the reload, none tempfailed: " << line);
}

TEST_CASE("mailsan-filter with ClamAV on and a missing or empty db_dir exits 2 and says why",
          "[clamav][startup]") {
  TempDir dir("mailsan-clamstart");
  const std::string bin = std::string(MAILSAN_BUILD_DIR) + "/contentfilter/mailsan-filter";
  std::filesystem::create_directories(dir.path() / "empty");
  for (std::string db : {(dir.path() / "empty").string(), (dir.path() / "missing").string()}) {
    std::ostringstream conf;
    conf << "listen = inet:127.0.0.1:" << free_tcp_port() << "\n"
         << "next_hop = inet:127.0.0.1:" << free_tcp_port() << "\n"
         << "redis = tcp:127.0.0.1:" << free_tcp_port() << "\n"
         << "spool_dir = " << (dir.path() / "spool").string() << "\n"
         << "quarantine_dir = " << (dir.path() / "quarantine").string() << "\n"
         << "[marker]\nenable = no\n[spamd]\nenable = no\n"
         << "[clamav]\nenable = yes\ndb_dir = " << db << "\n";
    write_file(dir.path() / "filter.conf", conf.str());
    auto started = run({bin, "-c", (dir.path() / "filter.conf").string()});
    INFO(started.output);
    CHECK(started.exit_code == 2);
    const std::string why =
        db.find("missing") != std::string::npos ? "no such directory" : "no signatures";
    CHECK(started.output.find("startup_failed error=\"clamav.db_dir = " + db + ": " + why + "\"") !=
          std::string::npos);
  }
}

}  // namespace mailsan::test
