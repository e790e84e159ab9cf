// `mailsanctl quarantine` and `mailsanctl check-config` end to end: entries
// are written the way mailsan-filter writes them (QuarantineStore into a
// private directory, the index into a real redis-server with redis-cli), and
// the real mailsanctl binary lists, shows, releases them into a real Postfix
// (the after-filter smtpd, next_hop) and deletes them. Redis down and
// next_hop down are real too: a stopped redis-server, a port nobody listens
// on.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "contentfilter/quarantine/quarantine.hpp"
#include "contentfilter/quarantine/quarantine_record.hpp"
#include "contentfilter/quarantine/quarantine_store.hpp"
#include "contentfilter/spool/message_spool.hpp"
#include "test/support/postfix_instance.hpp"
#include "test/support/process.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {
namespace {

namespace fs = std::filesystem;
using filter::QuarantineRecord;

constexpr const char* kPrefix = "mailsan:";
constexpr const char* kThisHost = "mx1.test";

// The message as the spool holds it: dot-unstuffed, CRLF. The lines that
// start with '.' must come out of the release exactly like this.
const std::string kMessage =
    "From: <alice@sender.test>\r\n"
    "To: <bob@example.test>\r\n"
    "Subject: quarantined test\r\n"
    "X-Folded: first part\r\n"
    "\tsecond part\r\n"
    "\r\n"
    "first line\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "last line\r\n";

std::string to_lf(std::string text) {
  std::string out;
  for (char c : text)
    if (c != '\r') out.push_back(c);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Whether Postfix delivered `sent` unchanged: its header lines in their
// order (Postfix adds Received above them and Message-Id and Date below
// them), then the body byte for byte, dots included. Delivered line ends
// are LF.
bool delivered_intact(const std::string& delivered, const std::string& sent) {
  const auto blank = sent.find("\r\n\r\n");
  REQUIRE(blank != std::string::npos);
  const std::string headers = to_lf(sent.substr(0, blank + 2));
  const std::string body = to_lf(sent.substr(blank + 4));
  return contains(delivered, "\n" + headers) && delivered.ends_with("\n\n" + body);
}

// A quarantine as mailsan-filter on mx1.test leaves it: the directory, the
// Redis index, and the filter.conf mailsanctl reads.
class Quarantine {
 public:
  Quarantine() { write_config(free_tcp_port()); }
  // A Redis that asks for a password, with the index in another database.
  Quarantine(const std::string& password, int database)
      : redis_(true, {"--requirepass", password}), database_(std::to_string(database)) {
    write_file(dir_.path() / "redis.password", password + "\n");
    extra_config_ = "redis_password_file = " + (dir_.path() / "redis.password").string() +
                    "\nredis_database = " + database_ + "\n";
    write_config(free_tcp_port());
  }

  // next_hop: the port of the after-filter smtpd.
  void write_config(unsigned short next_hop_port) {
    std::string text = "# written by mailsanctl_quarantine_test\n";
    text += "next_hop = inet:127.0.0.1:" + std::to_string(next_hop_port) + "\n";
    text += "redis = " + redis_.address() + "\n";
    text += std::string("redis_prefix = ") + kPrefix + "\n";
    text += "redis_timeout = 2\n";
    text += std::string("hostname = ") + kThisHost + "\n";
    text += "next_hop_timeout = 10\n";
    text += "quarantine_dir = " + quarantine_dir().string() + "\n";
    text += extra_config_;
    write_file(conf_, text);
  }

  QuarantineRecord record(std::int64_t time, std::uint64_t bits) const {
    QuarantineRecord r;
    r.id = filter::new_quarantine_id(time, bits);
    r.hostname = kThisHost;
    r.time = time;
    r.sender = "alice@sender.test";
    r.sender_parameters = {"BODY=8BITMIME"};
    r.recipients = {{"bob@example.test", {"NOTIFY=FAILURE"}}, {"carol@example.test", {}}};
    r.helo = "mx1.test";
    r.xforward = {{"NAME", "client.sender.test"},
                  {"ADDR", "192.0.2.25"},
                  {"PROTO", "ESMTP"},
                  {"HELO", "client.sender.test"}};
    r.reason = "spam 12.5 (reject 10 for bob@example.test)";
    r.report = "BAYES_99 3.5\nURIBL_BLACK 1.7";
    r.size = kMessage.size();
    return r;
  }

  // What the filter does: the files, then ZADD and SET.
  void put(const QuarantineRecord& r, const std::string& message = kMessage) {
    filter::MessageSpool spool(1 << 20, dir_.path());
    REQUIRE_FALSE(spool.append(message));
    filter::QuarantineStore store(quarantine_dir());
    REQUIRE_FALSE(store.put(r, spool));
    index(r);
  }
  // The index alone: an entry another MX holds.
  void index(const QuarantineRecord& r) {
    REQUIRE(cli({"ZADD", filter::quarantine_index_key(kPrefix), std::to_string(r.time), r.id}) ==
            "1");
    REQUIRE(cli({"SET", filter::quarantine_record_key(kPrefix, r.id),
                 filter::encode_quarantine_record(r)}) == "OK");
  }
  bool indexed(const std::string& id) const {
    return !cli({"ZSCORE", filter::quarantine_index_key(kPrefix), id}).empty() ||
           cli({"EXISTS", filter::quarantine_record_key(kPrefix, id)}) == "1";
  }
  bool on_disk(const std::string& id) const { return fs::exists(quarantine_dir() / id); }

  CommandResult ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {MAILSANCTL_BIN, "-c", conf_.string()});
    return run(args);
  }

  fs::path quarantine_dir() const { return dir_.path() / "quarantine"; }
  const fs::path& conf() const { return conf_; }
  RedisServer& redis() { return redis_; }
  // redis-cli in the database mailsanctl is configured for.
  std::string cli(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-n", database_});
    return redis_.cli(args);
  }

 private:
  TempDir dir_{"mailsan-ctl-test"};
  RedisServer redis_;
  std::string database_ = "0";
  std::string extra_config_;
  fs::path conf_ = dir_.path() / "filter.conf";
};

// The after-filter smtpd: Postfix that lets 127.0.0.1 send XFORWARD, as the
// shipped wiring does.
PostfixSettings next_hop_settings(const std::string& name) {
  PostfixSettings settings;
  settings.name = name;
  settings.extra_main_cf = "smtpd_authorized_xforward_hosts = 127.0.0.1/32\n";
  return settings;
}

}  // namespace

TEST_CASE("mailsanctl quarantine list shows every MX's entries from Redis, newest first",
          "[mailsanctl]") {
  Quarantine q;
  QuarantineRecord older = q.record(1714567890, 0x11);
  QuarantineRecord newer = q.record(1714571490, 0x22);
  // An escape sequence from a hostile client must not reach the terminal.
  newer.reason = "virus \x1b[2JEvil.Worm";
  q.put(older);
  q.put(newer);
  QuarantineRecord elsewhere = q.record(1714569000, 0x33);
  elsewhere.hostname = "mx2.test";
  q.index(elsewhere);

  auto listed = q.ctl({"quarantine", "list"});
  INFO(listed.output);
  REQUIRE(listed.exit_code == 0);
  CHECK_FALSE(contains(listed.output, "warning"));
  CHECK_FALSE(contains(listed.output, "\x1b"));
  const auto first = listed.output.find(newer.id);
  const auto second = listed.output.find(elsewhere.id);
  const auto third = listed.output.find(older.id);
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  REQUIRE(third != std::string::npos);
  CHECK(first < second);
  CHECK(second < third);
  CHECK(contains(listed.output, newer.id + "  2024-05-01T13:51:30Z  mx1.test  "
                                           "<alice@sender.test> bob@example.test,"
                                           "carol@example.test  virus ?[2JEvil.Worm\n"));
  CHECK(contains(listed.output, elsewhere.id + "  2024-05-01T13:10:00Z  mx2.test  "));

  SECTION("as JSON, every field of every record") {
    auto json = q.ctl({"quarantine", "list", "--json"});
    REQUIRE(json.exit_code == 0);
    auto parsed = nlohmann::json::parse(json.output, nullptr, false);
    REQUIRE(parsed.is_array());
    REQUIRE(parsed.size() == 3);
    auto back = filter::decode_quarantine_record(parsed[0].dump());
    REQUIRE(back);
    CHECK(*back == newer);
    CHECK(parsed[1]["hostname"] == "mx2.test");
    CHECK(parsed[2]["id"] == older.id);
  }

  SECTION("an entry quarantined while Redis was down is listed from the directory") {
    QuarantineRecord unindexed = q.record(1714580000, 0x44);
    filter::MessageSpool spool(1024, q.quarantine_dir());
    REQUIRE_FALSE(spool.append(kMessage));
    REQUIRE_FALSE(filter::QuarantineStore(q.quarantine_dir()).put(unindexed, spool));
    auto again = q.ctl({"quarantine", "list"});
    INFO(again.output);
    CHECK(again.exit_code == 0);
    CHECK(contains(again.output, unindexed.id + "  "));
    CHECK(contains(again.output, "missing from the Redis index"));
  }

  SECTION("with Redis down it warns and lists this host's directory") {
    q.redis().stop();
    auto fallback = q.ctl({"quarantine", "list"});
    INFO(fallback.output);
    CHECK(fallback.exit_code == 0);
    CHECK(contains(fallback.output, "warning: Redis at " + q.redis().address()));
    CHECK(contains(fallback.output, newer.id + "  "));
    CHECK(contains(fallback.output, older.id + "  "));
    CHECK_FALSE(contains(fallback.output, elsewhere.id));

    auto json = q.ctl({"quarantine", "list", "--json"});
    CHECK(json.exit_code == 0);
    CHECK(contains(json.output, "warning: Redis at"));
  }
}

TEST_CASE("mailsanctl authenticates to Redis and reads the configured database", "[mailsanctl]") {
  Quarantine q("s3cret pass", 3);
  QuarantineRecord r = q.record(1714567890, 0x4242);
  q.put(r);
  auto listed = q.ctl({"quarantine", "list"});
  INFO(listed.output);
  CHECK(listed.exit_code == 0);
  CHECK_FALSE(contains(listed.output, "warning"));
  CHECK(contains(listed.output, r.id + "  "));
  // Database 0 holds nothing: the index really was read from database 3.
  CHECK(q.redis().cli({"DBSIZE"}) == "0");

  SECTION("a wrong password is a Redis failure: warned about, and the directory is listed") {
    write_file(q.conf().parent_path() / "redis.password", "wrong\n");
    auto fallback = q.ctl({"quarantine", "list"});
    INFO(fallback.output);
    CHECK(fallback.exit_code == 0);
    CHECK(contains(fallback.output, "warning: Redis at"));
    CHECK(contains(fallback.output, "AUTH"));
    CHECK(contains(fallback.output, r.id + "  "));
  }

  SECTION("delete removes the index entries there") {
    auto deleted = q.ctl({"quarantine", "delete", r.id});
    INFO(deleted.output);
    CHECK(deleted.exit_code == 0);
    CHECK_FALSE(q.indexed(r.id));
  }
}

TEST_CASE("mailsanctl quarantine show prints the record and the message's headers",
          "[mailsanctl]") {
  Quarantine q;
  QuarantineRecord r = q.record(1714567890, 0x55);
  q.put(r);
  auto shown = q.ctl({"quarantine", "show", r.id});
  INFO(shown.output);
  REQUIRE(shown.exit_code == 0);
  CHECK(contains(shown.output, "id:         " + r.id + "\n"));
  CHECK(contains(shown.output, "time:       2024-05-01T12:51:30Z\n"));
  CHECK(contains(shown.output, "reason:     spam 12.5 (reject 10 for bob@example.test)\n"));
  CHECK(contains(shown.output, "sender:     <alice@sender.test> BODY=8BITMIME\n"));
  CHECK(contains(shown.output, "recipient:  <bob@example.test> NOTIFY=FAILURE\n"));
  CHECK(contains(shown.output, "recipient:  <carol@example.test>\n"));
  CHECK(contains(shown.output, "  BAYES_99 3.5\n  URIBL_BLACK 1.7\n"));
  CHECK(contains(shown.output, "\nSubject: quarantined test\n"));
  CHECK(contains(shown.output, "\n second part\n"));
  // Headers only: the body stays out.
  CHECK_FALSE(contains(shown.output, "first line"));
  CHECK_FALSE(contains(shown.output, "\r"));

  SECTION("an entry another MX holds names that MX") {
    QuarantineRecord elsewhere = q.record(1714567891, 0x66);
    elsewhere.hostname = "mx2.test";
    q.index(elsewhere);
    auto other = q.ctl({"quarantine", "show", elsewhere.id});
    INFO(other.output);
    CHECK(other.exit_code == 1);
    CHECK(contains(other.output, "held by mx2.test"));
  }
}

TEST_CASE("mailsanctl quarantine release delivers through next_hop and removes the entry",
          "[mailsanctl][postfix]") {
  PostfixInstance next_hop(next_hop_settings("ctl-release"));
  Quarantine q;
  q.write_config(next_hop.smtp_port());
  QuarantineRecord r = q.record(1714567890, 0x77);
  q.put(r);
  QuarantineRecord kept = q.record(1714567000, 0x78);
  q.put(kept);

  auto released = q.ctl({"quarantine", "release", r.id});
  INFO(released.output);
  REQUIRE(released.exit_code == 0);
  CHECK(contains(released.output, "released " + r.id + ": 250 "));
  CHECK(contains(released.output, "queued as"));
  CHECK_FALSE(contains(released.output, "warning"));

  auto delivered = next_hop.wait_for_delivered(2);
  REQUIRE(delivered.size() == 2);
  std::vector<std::string> recipients;
  for (const auto& m : delivered) {
    recipients.push_back(m.recipient);
    CHECK(m.sender == "alice@sender.test");
    // Postfix put its own headers on top; below them, the message as
    // quarantined, dots and all.
    CHECK(delivered_intact(m.content, kMessage));
  }
  std::sort(recipients.begin(), recipients.end());
  CHECK(recipients == std::vector<std::string>{"bob@example.test", "carol@example.test"});
  // The original client, through XFORWARD, as the filter would have passed it.
  CHECK(contains(next_hop.maillog(), "orig_client=client.sender.test[192.0.2.25]"));

  CHECK_FALSE(q.on_disk(r.id));
  CHECK_FALSE(q.indexed(r.id));
  auto listed = q.ctl({"quarantine", "list"});
  CHECK_FALSE(contains(listed.output, r.id));
  CHECK(contains(listed.output, kept.id));
  CHECK(q.on_disk(kept.id));
  CHECK(q.indexed(kept.id));

  // Released once, gone: a second release finds nothing.
  auto again = q.ctl({"quarantine", "release", r.id});
  CHECK(again.exit_code == 1);
  CHECK(contains(again.output, "no quarantine entry " + r.id));
}

TEST_CASE("mailsanctl quarantine release sends a large message intact across its write chunks",
          "[mailsanctl][postfix]") {
  PostfixInstance next_hop(next_hop_settings("ctl-large"));
  Quarantine q;
  q.write_config(next_hop.smtp_port());
  // Lines that start with '.' right at and around the 64 KiB boundaries at
  // which mailsanctl reads the file.
  std::string message = "Subject: large\r\n\r\n";
  while (message.size() < 300000) {
    const std::size_t to_boundary = 65536 - message.size() % 65536;
    if (to_boundary > 40 || to_boundary < 2) {
      // (Below 2 no line fits before the boundary: aim at the next one.)
      message +=
          std::string(to_boundary < 2 ? 70 : std::min<std::size_t>(to_boundary - 2, 70), 'x') +
          "\r\n";
    } else {
      message += std::string(to_boundary - 2, 'y') + "\r\n";
      message += ".at boundary\r\n";
    }
  }
  QuarantineRecord r = q.record(1714567890, 0x99);
  r.recipients = {{"bob@example.test", {}}};
  r.size = message.size();
  q.put(r, message);

  auto released = q.ctl({"quarantine", "release", r.id});
  INFO(released.output);
  REQUIRE(released.exit_code == 0);
  auto delivered = next_hop.wait_for_delivered(1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered_intact(delivered[0].content, message));
}

TEST_CASE("mailsanctl quarantine release with next_hop down fails and keeps the entry",
          "[mailsanctl]") {
  Quarantine q;  // next_hop: a free port nobody listens on
  QuarantineRecord r = q.record(1714567890, 0xaa);
  q.put(r);
  auto released = q.ctl({"quarantine", "release", r.id});
  INFO(released.output);
  CHECK(released.exit_code == 1);
  CHECK(contains(released.output, "release " + r.id + " failed: next_hop inet:127.0.0.1:"));
  CHECK(contains(released.output, "the entry is kept"));
  CHECK(q.on_disk(r.id));
  CHECK(q.indexed(r.id));
  CHECK(mailsan::test::read_file(q.quarantine_dir() / r.id / "message.eml") == kMessage);
}

TEST_CASE("mailsanctl quarantine release refused by next_hop keeps the entry",
          "[mailsanctl][postfix]") {
  PostfixSettings settings = next_hop_settings("ctl-refuse");
  // 127.0.0.1 stays in mynetworks, but this recipient is refused anyway.
  settings.recipient_restrictions =
      "check_recipient_access inline:{ carol@example.test=REJECT }, permit_mynetworks, reject";
  PostfixInstance next_hop(settings);
  Quarantine q;
  q.write_config(next_hop.smtp_port());
  QuarantineRecord r = q.record(1714567890, 0xbb);
  q.put(r);
  auto released = q.ctl({"quarantine", "release", r.id});
  INFO(released.output);
  CHECK(released.exit_code == 1);
  CHECK(contains(released.output, "RCPT: 554 5.7.1 <carol@example.test>"));
  CHECK(q.on_disk(r.id));
  CHECK(q.indexed(r.id));
  // bob was accepted, but nothing was sent: no message reached him alone.
  CHECK(next_hop.delivered().empty());
}

TEST_CASE("mailsanctl quarantine delete removes the files and the index entries", "[mailsanctl]") {
  Quarantine q;
  QuarantineRecord r = q.record(1714567890, 0xcc);
  q.put(r);
  auto deleted = q.ctl({"quarantine", "delete", r.id});
  INFO(deleted.output);
  CHECK(deleted.exit_code == 0);
  CHECK(contains(deleted.output, "deleted " + r.id));
  CHECK_FALSE(q.on_disk(r.id));
  CHECK_FALSE(q.indexed(r.id));
  // Nothing half-deleted is left in the directory.
  CHECK(fs::is_empty(q.quarantine_dir()));

  auto again = q.ctl({"quarantine", "delete", r.id});
  CHECK(again.exit_code == 1);
  CHECK(contains(again.output, "no quarantine entry " + r.id));

  SECTION("an index entry of this host without files is cleared") {
    QuarantineRecord stale = q.record(1714567891, 0xcd);
    q.index(stale);
    auto cleared = q.ctl({"quarantine", "delete", stale.id});
    INFO(cleared.output);
    CHECK(cleared.exit_code == 0);
    CHECK(contains(cleared.output, "index entry only"));
    CHECK_FALSE(q.indexed(stale.id));
  }

  SECTION("another MX's entry is left to that MX") {
    QuarantineRecord elsewhere = q.record(1714567892, 0xce);
    elsewhere.hostname = "mx2.test";
    q.index(elsewhere);
    auto refused = q.ctl({"quarantine", "delete", elsewhere.id});
    INFO(refused.output);
    CHECK(refused.exit_code == 1);
    CHECK(contains(refused.output, "held by mx2.test"));
    CHECK(q.indexed(elsewhere.id));
  }

  SECTION("an entry another mailsanctl is releasing is left alone") {
    QuarantineRecord busy = q.record(1714567894, 0xd0);
    q.put(busy);
    const int fd = ::open((q.quarantine_dir() / busy.id).c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    for (const char* command : {"delete", "release"}) {
      auto refused = q.ctl({"quarantine", command, busy.id});
      INFO(refused.output);
      CHECK(refused.exit_code == 1);
      CHECK(contains(refused.output, "is being released or deleted by another mailsanctl"));
    }
    ::close(fd);
    CHECK(q.on_disk(busy.id));
    CHECK(q.indexed(busy.id));
  }

  SECTION("with Redis down the files go and the exit code says the index did not") {
    QuarantineRecord other = q.record(1714567893, 0xcf);
    q.put(other);
    q.redis().stop();
    auto partial = q.ctl({"quarantine", "delete", other.id});
    INFO(partial.output);
    CHECK(partial.exit_code == 1);
    CHECK(contains(partial.output, "the Redis index still lists " + other.id));
    CHECK_FALSE(q.on_disk(other.id));
  }
}

TEST_CASE("mailsanctl refuses ids that are not quarantine ids and names missing ones",
          "[mailsanctl]") {
  Quarantine q;
  QuarantineRecord r = q.record(1714567890, 0xdd);
  q.put(r);
  for (const char* command : {"show", "release", "delete"}) {
    for (const char* bad :
         {"../etc", "a/b", "", "..", "/etc/passwd", "20240501T125130-0123456789abcdef/../../x"}) {
      auto result = q.ctl({"quarantine", command, bad});
      INFO(command << " '" << bad << "': " << result.output);
      CHECK(result.exit_code == 2);
      CHECK(contains(result.output, "is not a quarantine id"));
    }
    auto missing = q.ctl({"quarantine", command, "20240501T125130-0000000000000000"});
    INFO(command << ": " << missing.output);
    CHECK(missing.exit_code == 1);
    CHECK(contains(missing.output, "no quarantine entry 20240501T125130-0000000000000000"));
  }
  // Nothing above touched the real entry.
  CHECK(q.on_disk(r.id));
  CHECK(q.indexed(r.id));

  auto no_id = q.ctl({"quarantine", "show"});
  CHECK(no_id.exit_code == 2);
  auto extra = q.ctl({"quarantine", "list", "--yaml"});
  CHECK(extra.exit_code == 2);
  auto unknown = q.ctl({"quarantine", "purge"});
  CHECK(unknown.exit_code == 2);
  auto nothing = run({MAILSANCTL_BIN});
  CHECK(nothing.exit_code == 2);
  CHECK(contains(nothing.output, "usage: mailsanctl"));
}

TEST_CASE("mailsanctl check-config says OK or names the file and line", "[mailsanctl]") {
  Quarantine q;
  auto ok = run({MAILSANCTL_BIN, "check-config", "-c", q.conf().string()});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(contains(ok.output, q.conf().string() + ": OK"));

  TempDir dir{"mailsan-ctl-conf"};
  const fs::path bad = dir.path() / "filter.conf";
  write_file(bad, "hostname = mx1.test\n\nnext_hop = nowhere\n");
  auto wrong = run({MAILSANCTL_BIN, "-c", bad.string(), "check-config"});
  INFO(wrong.output);
  CHECK(wrong.exit_code == 2);
  CHECK(contains(wrong.output, bad.string() + ":3:"));

  write_file(bad, "[clamav]\nvirus_acton = reject\n");
  auto typo = run({MAILSANCTL_BIN, "check-config", "-c", bad.string()});
  CHECK(typo.exit_code == 2);
  CHECK(contains(typo.output, ":2: unknown option 'clamav.virus_acton'"));

  auto missing = run({MAILSANCTL_BIN, "check-config", "-c", (dir.path() / "none.conf").string()});
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.output, "none.conf"));

  // A broken config stops the quarantine commands too, with the same message.
  auto listed = run({MAILSANCTL_BIN, "-c", bad.string(), "quarantine", "list"});
  CHECK(listed.exit_code == 2);
  CHECK(contains(listed.output, "unknown option 'clamav.virus_acton'"));
}

}  // namespace mailsan::test
