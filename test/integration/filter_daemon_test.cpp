// mailsan-filter's daemon side, run as a real process: a unix: listener,
// running out of descriptors, and the directories it makes before it drops
// root. The next hop is a real Postfix.
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "test/support/filter_process.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {
namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

PostfixSettings next_hop_settings() {
  PostfixSettings s;
  s.name = "next-hop";
  s.mynetworks = "127.0.0.0/8";
  return s;
}

// EHLO to RCPT, after the greeting was read.
void envelope(SmtpTestClient& c, const std::vector<std::string>& recipients) {
  REQUIRE(c.command("EHLO mx1.test").rfind("250", 0) == 0);
  REQUIRE(c.command("MAIL FROM:<alice@remote.test>") == "250 2.1.0 Ok");
  for (const auto& r : recipients) REQUIRE(c.command("RCPT TO:<" + r + ">") == "250 2.1.5 Ok");
}

std::string send_message(SmtpTestClient& c, const std::string& message) {
  REQUIRE(c.command("DATA").rfind("354", 0) == 0);
  c.send(message + "\r\n.\r\n");
  return c.read_reply();
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  // Fields 3.. follow the command name; utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i >= 14) ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::size_t count_lines_with(const std::string& text, const std::string& what) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(what) != std::string::npos;
  return n;
}

struct Owner {
  uid_t uid;
  unsigned mode;
};
Owner owner_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return {st.st_uid, static_cast<unsigned>(st.st_mode & 07777)};
}

}  // namespace

TEST_CASE("the filter serves a unix socket and removes it when it stops", "[filter][daemon]") {
  RedisServer redis;
  PostfixInstance next_hop(next_hop_settings());
  TempDir sockets;
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.smtp_port();
  fs.unix_socket = (sockets.path() / "filter.sock").string();
  FilterProcess filter(fs);
  {
    SmtpTestClient c{std::filesystem::path(fs.unix_socket)};
    REQUIRE(c.read_reply().rfind("220 mx1.test ESMTP mailsan-filter", 0) == 0);
    envelope(c, {"bob@example.test"});
    auto reply = send_message(c, "Subject: over a unix socket\r\n\r\nhello");
    INFO(filter.log());
    CHECK(reply.rfind("250 2.0.0 Ok: queued as", 0) == 0);
    CHECK(c.command("QUIT").rfind("221", 0) == 0);
  }
  CHECK(next_hop.wait_for_delivered(1).size() == 1);
  CHECK(filter.log().find("peer=unix") != std::string::npos);
  CHECK(filter.process().stop() == 0);
  CHECK_FALSE(std::filesystem::exists(fs.unix_socket));
}

TEST_CASE("Postfix hands messages to the filter over smtpd_proxy_filter = unix:",
          "[postfix][filter][daemon]") {
  RedisServer redis;
  TempDir sockets;
  unsigned short after_port = free_tcp_port();
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = after_port;
  fs.unix_socket = (sockets.path() / "filter.sock").string();
  FilterProcess filter(fs);
  PostfixSettings ps;
  ps.name = "filter-mx";
  // The shipped wiring with the proxy filter on the unix socket.
  ShippedWiring wiring = shipped_wiring(10025, after_port);
  for (auto& option : wiring.smtpd_options)
    if (option.rfind("smtpd_proxy_filter=", 0) == 0)
      option = "smtpd_proxy_filter=unix:" + fs.unix_socket;
  ps.smtpd_options = wiring.smtpd_options;
  ps.extra_master_cf = wiring.after_filter_service;
  PostfixInstance mx(ps);
  SwaksMessage m;
  m.from = "alice@remote.test";
  m.to = {"bob@example.test"};
  m.headers = {"Subject: through a unix socket"};
  auto sent = mx.send(m);
  INFO(sent.transcript << "\n--- filter:\n" << filter.log());
  REQUIRE(sent.exit_code == 0);
  auto delivered = mx.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].headers("X-Virus-Scanned") ==
        std::vector<std::string>{"mailsan-filter at mx1.test"});
  CHECK(filter.log().find("peer=unix") != std::string::npos);
}

TEST_CASE("out of descriptors the filter backs off, keeps serving, and greets again when free",
          "[filter][daemon][emfile]") {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  REQUIRE(rl.rlim_cur >= 1024);

  RedisServer redis;
  PostfixInstance next_hop(next_hop_settings());
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.smtp_port();
  // Far fewer descriptors than clients; raise_file_limit() cannot lift it,
  // the hard limit is lowered too.
  fs.max_open_files = 64;
  FilterProcess filter(fs);
  pid_t pid = filter.process().pid();

  // A session opened before the flood, its envelope given.
  SmtpTestClient first("127.0.0.1", filter.port());
  REQUIRE(first.read_reply().rfind("220", 0) == 0);
  envelope(first, {"bob@example.test"});

  std::vector<std::unique_ptr<SmtpTestClient>> flood;
  for (int i = 0; i < 300; ++i)
    flood.push_back(std::make_unique<SmtpTestClient>("127.0.0.1", filter.port()));
  std::this_thread::sleep_for(1s);  // the filter reaches its limit
  double cpu_before = cpu_seconds(pid);
  std::this_thread::sleep_for(3s);
  double cpu = cpu_seconds(pid) - cpu_before;
  std::string log = filter.log();
  std::size_t failure_lines = count_lines_with(log, "accept_failed");
  INFO(log);
  // Measured, for the record.
  WARN("filter CPU over 3 s at the descriptor limit: " << cpu << " s; accept_failed lines: "
                                                       << failure_lines);
  CHECK(cpu < 0.3);
  CHECK(failure_lines >= 1);
  CHECK(failure_lines <= 3);
  CHECK(log.find("accept_failed listen=inet:127.0.0.1:" + std::to_string(filter.port()) +
                 " error=\"Too many open files\" count=") != std::string::npos);

  // The session opened before still gets its message through, next hop
  // connection and all.
  auto reply = send_message(first, "Subject: at the limit\r\n\r\nhello");
  CHECK(reply.rfind("250 2.0.0 Ok: queued as", 0) == 0);
  CHECK(next_hop.wait_for_delivered(1).size() == 1);

  // Descriptors free again: a new client is greeted promptly.
  flood.clear();
  auto start = Clock::now();
  SmtpTestClient late("127.0.0.1", filter.port());
  CHECK(late.read_reply(5s).rfind("220", 0) == 0);
  auto greeted_after = std::chrono::duration<double>(Clock::now() - start).count();
  WARN("a new client was greeted " << greeted_after << " s after the flood's clients closed");
  CHECK(greeted_after < 2.0);
  CHECK(filter.process().running());
}

TEST_CASE("started as root with user = nobody the filter makes its directories for nobody",
          "[filter][daemon][user]") {
  if (::geteuid() != 0) {
    WARN("skipped: starting as root is what is tested");
    return;
  }
  passwd* nobody = ::getpwnam("nobody");
  REQUIRE(nobody);
  uid_t nobody_uid = nobody->pw_uid;
  RedisServer redis;
  PostfixInstance next_hop(next_hop_settings());
  FilterSettings fs;
  fs.redis = redis.address();
  fs.next_hop_port = next_hop.smtp_port();
  // Every message goes through a spool file; bob's copy to quarantine.
  fs.extra_top = "user = nobody\nspool_memory_limit = 0\n";
  fs.extra_sections = "[verdict]\nspam_thresholds = bob@example.test=3/6\n";
  FilterProcess filter(fs);
  SmtpTestClient c("127.0.0.1", filter.port());
  REQUIRE(c.read_reply().rfind("220", 0) == 0);
  envelope(c, {"bob@example.test", "carol@example.test"});
  auto reply = send_message(c, "Subject: split\r\nX-Mailsan-Test-Verdict: spam 7\r\n\r\nhello");
  INFO(filter.log());
  CHECK(reply.rfind("250 2.0.0 Ok: queued as", 0) == 0);
  CHECK(filter.quarantined().size() == 1);
  CHECK(next_hop.wait_for_delivered(1)[0].recipient == "carol@example.test");
  for (const auto& dir : {filter.spool_dir(), filter.quarantine_dir()}) {
    INFO(dir);
    auto o = owner_of(dir);
    CHECK(o.uid == nobody_uid);
    CHECK(o.mode == 0700);
  }
}

TEST_CASE("a directory the run-as user cannot write to stops start-up, named",
          "[filter][daemon][user]") {
  if (::geteuid() != 0) {
    WARN("skipped: starting as root is what is tested");
    return;
  }
  TempDir dir("mailsan-filter");
  auto quarantine = dir.path() / "quarantine";
  std::filesystem::create_directory(quarantine);
  std::filesystem::permissions(quarantine, std::filesystem::perms::owner_all);
  auto conf = dir.path() / "filter.conf";
  write_file(conf, "listen = inet:127.0.0.1:" + std::to_string(free_tcp_port()) +
                       "\nnext_hop = inet:127.0.0.1:9\nredis = tcp:127.0.0.1:9\n"
                       "user = nobody\nspool_dir = " +
                       (dir.path() / "spool").string() +
                       "\nquarantine_dir = " + quarantine.string() +
                       "\n[clamav]\nenable = no\n[spamd]\nenable = no\n[bulk]\nenable = no\n");
  auto r = run({MAILSAN_FILTER_BIN, "-c", conf.string()});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("startup_failed") != std::string::npos);
  CHECK(r.output.find("quarantine_dir = " + quarantine.string() +
                      ": not writable by user 'nobody' (owner root, mode 0700)") !=
        std::string::npos);
}

}  // namespace mailsan::test
