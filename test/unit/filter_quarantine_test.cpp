// The quarantine: records to JSON and back (hostile bytes included), strict
// decoding, the id shape mailsanctl accepts, the Redis key names, and the
// on-disk store in a private directory.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <string>

#include "contentfilter/quarantine/quarantine.hpp"
#include "contentfilter/quarantine/quarantine_record.hpp"
#include "contentfilter/quarantine/quarantine_store.hpp"
#include "contentfilter/spool/message_spool.hpp"
#include "test/support/process.hpp"

using mailsan::filter::decode_quarantine_record;
using mailsan::filter::encode_quarantine_record;
using mailsan::filter::MessageSpool;
using mailsan::filter::new_quarantine_id;
using mailsan::filter::QuarantineRecord;
using mailsan::filter::QuarantineStore;
using mailsan::filter::valid_quarantine_id;
using mailsan::test::TempDir;
namespace fs = std::filesystem;

namespace {

QuarantineRecord sample_record(std::int64_t time = 1714567890, std::uint64_t bits = 0xabc) {
  QuarantineRecord r;
  r.id = new_quarantine_id(time, bits);
  r.hostname = "mx1.example.com";
  r.time = time;
  r.sender = "alice@example.net";
  r.sender_parameters = {"SIZE=1234", "BODY=8BITMIME"};
  r.recipients = {{"bob@example.com", {"NOTIFY=NEVER"}},
                  {"carol@example.com", {"ORCPT=rfc822;carol@example.com", "NOTIFY=FAILURE"}}};
  r.helo = "client.example.net";
  r.xforward = {{"NAME", "client.example.net"}, {"ADDR", "192.0.2.25"}, {"HELO", "client"}};
  r.reason = "spam 12.5 (reject 10 for bob@example.com)";
  r.report = "BAYES_99 3.5\nURIBL_BLACK 1.7\n";
  r.size = 42;
  return r;
}

// The encoded record with the member `name` replaced by `value` (a JSON
// text), or removed when value is empty.
std::string with_member(const std::string& name, const std::string& value) {
  std::string json = encode_quarantine_record(sample_record());
  auto key = "\"" + name + "\":";
  auto at = json.find(key);
  REQUIRE(at != std::string::npos);
  // Find the end of the member's value: the next top-level ',' or '}'.
  std::size_t i = at + key.size();
  int depth = 0;
  bool in_string = false;
  for (; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      ++depth;
    else if (c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    } else if (c == ',' && depth == 0)
      break;
  }
  if (value.empty()) {
    // Drop the member and one adjacent comma.
    std::size_t begin = at, end = i;
    if (end < json.size() && json[end] == ',')
      ++end;
    else if (begin > 0 && json[begin - 1] == ',')
      --begin;
    return json.erase(begin, end - begin);
  }
  return json.replace(at + key.size(), i - at - key.size(), value);
}

std::string read(const fs::path& p) {
  return mailsan::test::read_file(p);
}

}  // namespace

TEST_CASE("a quarantine record survives JSON and back", "[quarantine]") {
  const QuarantineRecord r = sample_record();
  const std::string json = encode_quarantine_record(r);
  CHECK(json.find('\n') == std::string::npos);  // one line, as Redis and logs like it
  auto back = decode_quarantine_record(json);
  REQUIRE(back);
  CHECK(*back == r);
}

TEST_CASE("a record with no recipients' parameters, null sender and empty lists round-trips",
          "[quarantine]") {
  QuarantineRecord r;
  r.id = new_quarantine_id(0, 0);
  r.recipients = {{"postmaster", {}}};
  auto back = decode_quarantine_record(encode_quarantine_record(r));
  REQUIRE(back);
  CHECK(*back == r);
}

TEST_CASE("UTF-8 and control bytes round-trip exactly", "[quarantine]") {
  QuarantineRecord r = sample_record();
  r.sender = "j\xc3\xb6rg@b\xc3\xbc\x63her.example";  // jörg@bücher.example
  r.recipients[0].address = "\xe7\x94\xb0\xe4\xb8\xad@example.com";
  r.report = std::string("line1\r\nline2\ttab\x01\x1b[31mred\x7f", 26) + std::string(1, '\0') +
             "after nul";
  r.helo = "\"quoted\" \\backslash\\";
  auto back = decode_quarantine_record(encode_quarantine_record(r));
  REQUIRE(back);
  CHECK(*back == r);
  CHECK(back->report.size() == r.report.size());
}

TEST_CASE("invalid UTF-8 is replaced, not thrown", "[quarantine]") {
  QuarantineRecord r = sample_record();
  r.sender = "bad\xff\xfe@example.net";
  r.reason = "virus \xc3";  // truncated sequence at the end
  r.xforward.push_back({"NAME", "\xed\xa0\x80surrogate"});
  std::string json;
  REQUIRE_NOTHROW(json = encode_quarantine_record(r));
  auto back = decode_quarantine_record(json);
  REQUIRE(back);
  const std::string replacement = "\xef\xbf\xbd";
  CHECK(back->sender.find(replacement) != std::string::npos);
  CHECK(back->sender.rfind("bad", 0) == 0);
  CHECK(back->sender.find("@example.net") != std::string::npos);
  CHECK(back->reason.find(replacement) != std::string::npos);
  CHECK(back->xforward.back().second.find("surrogate") != std::string::npos);
  // Everything else is untouched.
  CHECK(back->recipients == r.recipients);
  CHECK(back->report == r.report);
}

TEST_CASE("malformed record JSON decodes to nothing", "[quarantine]") {
  // The sample itself decodes, so each failure below is the change's doing.
  REQUIRE(decode_quarantine_record(encode_quarantine_record(sample_record())));

  for (const char* text : {"", " ", "null", "[]", "{}", "\"x\"", "42", "{\"id\":", "{]",
                           "{\"id\":\"20240501T123130-0000000000000abc\"}", "\xff\xfe"}) {
    INFO(text);
    CHECK_FALSE(decode_quarantine_record(text));
  }
  std::string truncated = encode_quarantine_record(sample_record());
  truncated.pop_back();
  CHECK_FALSE(decode_quarantine_record(truncated));
  CHECK_FALSE(decode_quarantine_record(encode_quarantine_record(sample_record()) + "x"));

  struct Change {
    const char* member;
    const char* value;  // "" removes the member
  };
  const Change changes[] = {
      {"id", ""},
      {"id", "42"},
      {"id", "\"../../etc\""},
      {"id", "\"20240501T123130-0000000000000ABC\""},
      {"hostname", ""},
      {"hostname", "null"},
      {"time", ""},
      {"time", "\"1714567890\""},
      {"time", "1.5"},
      {"time", "18446744073709551615"},
      {"sender", ""},
      {"sender", "[]"},
      {"sender_parameters", ""},
      {"sender_parameters", "\"SIZE=1\""},
      {"sender_parameters", "[1]"},
      {"recipients", ""},
      {"recipients", "{}"},
      {"recipients", "[\"bob@example.com\"]"},
      {"recipients", "[{\"address\":\"bob@example.com\"}]"},
      {"recipients", "[{\"address\":1,\"parameters\":[]}]"},
      {"recipients", "[{\"address\":\"b\",\"parameters\":[null]}]"},
      {"helo", ""},
      {"helo", "true"},
      {"xforward", ""},
      {"xforward", "[[\"NAME\",\"x\"]]"},
      {"xforward", "[{\"name\":\"NAME\"}]"},
      {"xforward", "[{\"name\":\"NAME\",\"value\":7}]"},
      {"reason", ""},
      {"reason", "{}"},
      {"report", ""},
      {"report", "[\"a\"]"},
      {"size", ""},
      {"size", "-1"},
      {"size", "4.2"},
      {"size", "\"42\""},
  };
  for (const auto& c : changes) {
    const std::string json = with_member(c.member, c.value);
    INFO(c.member << " = '" << c.value << "': " << json);
    CHECK_FALSE(decode_quarantine_record(json));
  }
}

TEST_CASE("a negative time and unknown members are accepted", "[quarantine]") {
  auto r = decode_quarantine_record(with_member("time", "-5"));
  REQUIRE(r);
  CHECK(r->time == -5);
  std::string json = encode_quarantine_record(sample_record());
  json.insert(1, "\"added_later\":{\"x\":[1,2]},");
  auto later = decode_quarantine_record(json);
  REQUIRE(later);
  CHECK(*later == sample_record());
}

TEST_CASE("quarantine ids carry the UTC time and random hex", "[quarantine]") {
  CHECK(new_quarantine_id(0, 0) == "19700101T000000-0000000000000000");
  CHECK(new_quarantine_id(1714567890, 0x0123456789abcdefULL) == "20240501T125130-0123456789abcdef");
  CHECK(new_quarantine_id(951782400, 1) == "20000229T000000-0000000000000001");  // leap day
  // Out of range times are clamped so the shape holds.
  CHECK(new_quarantine_id(-1, 2) == "19700101T000000-0000000000000002");
  CHECK(new_quarantine_id(INT64_MAX, 3) == "99991231T235959-0000000000000003");

  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = new_quarantine_id(1714567890);
    CHECK(valid_quarantine_id(id));
    CHECK(id.rfind("20240501T125130-", 0) == 0);
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("only the exact id shape is a valid quarantine id", "[quarantine]") {
  CHECK(valid_quarantine_id("20240501T125130-0123456789abcdef"));
  CHECK(valid_quarantine_id(new_quarantine_id(1714567890)));
  for (const char* bad : {
           "",
           "../x",
           "a/b",
           "..",
           ".",
           "/etc/passwd",
           "20240501T125130-0123456789abcde",    // short
           "20240501T125130-0123456789abcdef0",  // long
           "20240501T125130-0123456789ABCDEF",   // upper-case hex
           "20240501t125130-0123456789abcdef",
           "2024050XT125130-0123456789abcdef",
           "20240501T125130_0123456789abcdef",
           "20240501T125130-0123456789abcdeg",
           "20240501T125130-0123456789abcde/",
           "20240501T125130-../../../../etc",
           "20240501T125130-0123456789abcdef.tmp",
           " 20240501T125130-0123456789abcdef",
       }) {
    INFO(bad);
    CHECK_FALSE(valid_quarantine_id(bad));
  }
  CHECK_FALSE(valid_quarantine_id(std::string("20240501T125130-0123456789abcde\0", 32)));
  CHECK_FALSE(valid_quarantine_id(std::string(10000, '1')));
}

TEST_CASE("quarantine index keys share the configured prefix", "[quarantine]") {
  using mailsan::filter::quarantine_index_key;
  using mailsan::filter::quarantine_record_key;
  CHECK(quarantine_index_key("mailsan:") == "mailsan:quarantine");
  CHECK(quarantine_record_key("mailsan:", "20240501T125130-0123456789abcdef") ==
        "mailsan:quarantine:20240501T125130-0123456789abcdef");
  CHECK(quarantine_index_key("") == "quarantine");
}

TEST_CASE("the quarantine store puts, gets, lists and removes entries", "[quarantine]") {
  TempDir tmp{"mailsan-quarantine-test"};
  const fs::path dir = tmp.path() / "quarantine";  // created by the first put()
  QuarantineStore store(dir);
  CHECK(store.list().empty());

  // One message held in memory, one large enough to be in the spool's file.
  const std::string small = "Subject: one\r\n\r\n.leading dot stays unstuffed\r\nbody\r\n";
  std::string large = "Subject: two\r\n\r\n";
  while (large.size() < 200000) large += "a line of the second message\r\n";
  MessageSpool small_spool(1 << 20, tmp.path());
  REQUIRE_FALSE(small_spool.append(small));
  MessageSpool large_spool(4096, tmp.path());
  REQUIRE_FALSE(large_spool.append(large));
  REQUIRE_FALSE(large_spool.in_memory());

  QuarantineRecord older = sample_record(1714567890, 1);
  older.size = small.size();
  QuarantineRecord newer = sample_record(1714567999, 2);
  newer.size = large.size();
  REQUIRE_FALSE(store.put(older, small_spool));
  REQUIRE_FALSE(store.put(newer, large_spool));

  CHECK(read(store.message_path(older.id)) == small);
  CHECK(read(store.message_path(newer.id)) == large);
  CHECK(store.message_path(older.id) == dir / older.id / "message.eml");
  auto got = store.get(newer.id);
  REQUIRE(got);
  CHECK(*got == newer);

  // Private: quarantined mail is other people's mail.
  struct stat st {};
  REQUIRE(::stat((dir / older.id).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat(store.message_path(older.id).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto listed = store.list();
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].id == newer.id);
  CHECK(listed[1].id == older.id);

  SECTION("the same id twice is refused and the first entry kept") {
    CHECK(store.put(older, large_spool) == std::errc::file_exists);
    CHECK(read(store.message_path(older.id)) == small);
  }

  SECTION("remove deletes the entry and nothing else") {
    REQUIRE_FALSE(store.remove(older.id));
    CHECK_FALSE(fs::exists(dir / older.id));
    CHECK_FALSE(store.get(older.id));
    CHECK(store.list().size() == 1);
    CHECK(store.remove(older.id) == std::errc::no_such_file_or_directory);
    CHECK(store.get(newer.id));
    // Only the remaining entry is left in the directory.
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    CHECK(n == 1);
  }

  SECTION("leftovers of an interrupted put and stray files are not listed") {
    QuarantineRecord half = sample_record(1714569999, 3);
    fs::create_directory(dir / (half.id + ".tmp"));
    mailsan::test::write_file(dir / (half.id + ".tmp") / "record.json",
                              encode_quarantine_record(half));
    mailsan::test::write_file(dir / "README", "not an entry");
    fs::create_directory(dir / "20240501T125130-00000000000000zz");
    // An entry whose record is damaged is skipped, not fatal.
    QuarantineRecord damaged = sample_record(1714569998, 4);
    fs::create_directory(dir / damaged.id);
    mailsan::test::write_file(dir / damaged.id / "record.json", "{\"id\":");
    // A record moved into another entry's directory does not count.
    QuarantineRecord moved = sample_record(1714569997, 5);
    fs::create_directory(dir / moved.id);
    mailsan::test::write_file(dir / moved.id / "record.json", encode_quarantine_record(older));

    auto after = store.list();
    REQUIRE(after.size() == 2);
    CHECK(after[0].id == newer.id);
    CHECK(after[1].id == older.id);
    CHECK_FALSE(store.get(half.id));
    CHECK_FALSE(store.get(moved.id));

    // A later put() of the interrupted id clears the leftover.
    REQUIRE_FALSE(store.put(half, small_spool));
    CHECK_FALSE(fs::exists(dir / (half.id + ".tmp")));
    CHECK(store.list().size() == 3);
  }

  SECTION("invalid ids never reach the file system") {
    for (const char* bad : {"../x", "a/b", "", "..", "/etc", "../quarantine"}) {
      INFO(bad);
      CHECK_FALSE(store.get(bad));
      CHECK(store.message_path(bad).empty());
      CHECK(store.remove(bad) == std::errc::invalid_argument);
    }
    QuarantineRecord bad = older;
    bad.id = "../escape";
    CHECK(store.put(bad, small_spool) == std::errc::invalid_argument);
    CHECK_FALSE(fs::exists(tmp.path() / "escape"));
    CHECK_FALSE(fs::exists(tmp.path() / "escape.tmp"));
    CHECK(fs::exists(dir / older.id));
  }
}

TEST_CASE("the quarantine store reports a directory it cannot create", "[quarantine]") {
  TempDir tmp{"mailsan-quarantine-test"};
  mailsan::test::write_file(tmp.path() / "file", "x");
  QuarantineStore store(tmp.path() / "file" / "quarantine");
  MessageSpool spool(100, tmp.path());
  REQUIRE_FALSE(spool.append("x\r\n"));
  CHECK(store.put(sample_record(), spool));
  CHECK(store.list().empty());
}
