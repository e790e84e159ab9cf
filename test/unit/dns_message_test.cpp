// The resolver's pure reply handling: TTLs read from the raw message (which
// c-ares 1.18 does not report for TXT, MX, PTR and negative answers) and
// replies turned into Answers, from messages built here byte by byte,
// including truncated and malformed ones.
#include <ares.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/dns/message.hpp"

using mailsan::dns::negative_ttl;
using mailsan::dns::parse_answer;
using mailsan::dns::RecordType;
using mailsan::dns::Status;
using mailsan::dns::status_from_ares;

namespace {

constexpr std::uint16_t kA = 1, kPtr = 12, kMx = 15, kTxt = 16, kSoa = 6;

struct Message {
  std::vector<unsigned char> bytes;

  void u8(unsigned v) { bytes.push_back(static_cast<unsigned char>(v)); }
  void u16(unsigned v) {
    u8(v >> 8 & 0xff);
    u8(v & 0xff);
  }
  void u32(std::uint32_t v) {
    u16(v >> 16);
    u16(v & 0xffff);
  }
  void name(std::string_view dotted) {
    while (!dotted.empty()) {
      const auto dot = dotted.find('.');
      const std::string_view label = dotted.substr(0, dot);
      u8(static_cast<unsigned>(label.size()));
      bytes.insert(bytes.end(), label.begin(), label.end());
      dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
    }
    u8(0);
  }
  void pointer_to_question() { u16(0xC00C); }
  // An RR owned by the question's name; rdata is appended by the caller
  // after rdlength, which is patched by end_rr().
  std::size_t begin_rr(std::uint16_t type, std::uint32_t ttl) {
    pointer_to_question();
    u16(type);
    u16(1);
    u32(ttl);
    u16(0);
    return bytes.size();
  }
  void end_rr(std::size_t rdata_start) {
    const std::size_t length = bytes.size() - rdata_start;
    bytes[rdata_start - 2] = static_cast<unsigned char>(length >> 8);
    bytes[rdata_start - 1] = static_cast<unsigned char>(length & 0xff);
  }
  std::span<const unsigned char> span() const { return bytes; }
};

// A reply header (NOERROR, or rcode) and the question.
Message reply(std::string_view qname, std::uint16_t qtype, unsigned answers, unsigned authority,
              unsigned rcode = 0) {
  Message m;
  m.u16(0x1234);
  m.u16(0x8180 | rcode);
  m.u16(1);
  m.u16(answers);
  m.u16(authority);
  m.u16(0);
  m.name(qname);
  m.u16(qtype);
  m.u16(1);
  return m;
}

void add_a(Message& m, std::uint32_t ttl, std::uint8_t last_octet) {
  const auto start = m.begin_rr(kA, ttl);
  m.u8(192);
  m.u8(0);
  m.u8(2);
  m.u8(last_octet);
  m.end_rr(start);
}

void add_txt(Message& m, std::uint32_t ttl, std::vector<std::string> strings) {
  const auto start = m.begin_rr(kTxt, ttl);
  for (const auto& s : strings) {
    m.u8(static_cast<unsigned>(s.size()));
    m.bytes.insert(m.bytes.end(), s.begin(), s.end());
  }
  m.end_rr(start);
}

void add_soa(Message& m, std::uint32_t ttl, std::uint32_t minimum) {
  const auto start = m.begin_rr(kSoa, ttl);
  m.name("ns.example.test");
  m.name("hostmaster.example.test");
  for (std::uint32_t v : {1U, 3600U, 600U, 86400U}) m.u32(v);
  m.u32(minimum);
  m.end_rr(start);
}

Message two_a_records() {
  Message m = reply("a.example.test", kA, 2, 0);
  add_a(m, 300, 1);
  add_a(m, 60, 2);
  return m;
}

}  // namespace

TEST_CASE("The answer TTL is the lowest TTL among the answer records", "[dns]") {
  CHECK(mailsan::dns::answer_ttl(two_a_records().span()) == 60U);
}

TEST_CASE("A TTL with the top bit set counts as zero", "[dns]") {
  Message m = reply("a.example.test", kA, 1, 0);
  add_a(m, 0x80000010U, 1);
  CHECK(mailsan::dns::answer_ttl(m.span()) == 0U);
}

TEST_CASE("A reply without answer records has no answer TTL", "[dns]") {
  CHECK_FALSE(mailsan::dns::answer_ttl(reply("a.example.test", kA, 0, 0).span()));
  CHECK_FALSE(mailsan::dns::answer_ttl({}));
}

TEST_CASE("Every truncation of a reply yields no TTL and no crash", "[dns]") {
  const Message whole = two_a_records();
  // One byte at a time: each prefix is a reply cut short.
  for (std::size_t n = 0; n < whole.bytes.size(); ++n) {
    const std::span<const unsigned char> prefix(whole.bytes.data(), n);
    CHECK_FALSE(mailsan::dns::answer_ttl(prefix));
    CHECK_FALSE(negative_ttl(prefix));
  }
  CHECK(mailsan::dns::answer_ttl(whole.span()) == 60U);
}

TEST_CASE("A label of a reserved type makes the reply malformed", "[dns]") {
  Message m = two_a_records();
  m.bytes[12] = 0x41;  // the question's first label length, now type 01
  CHECK_FALSE(mailsan::dns::answer_ttl(m.span()));
}

TEST_CASE("The negative TTL is the lower of the SOA's TTL and its MINIMUM", "[dns]") {
  Message minimum_lower = reply("nothing.example.test", kA, 0, 1, 3);
  add_soa(minimum_lower, 3600, 120);
  CHECK(negative_ttl(minimum_lower.span()) == 120U);
  Message ttl_lower = reply("nothing.example.test", kA, 0, 1, 3);
  add_soa(ttl_lower, 60, 120);
  CHECK(negative_ttl(ttl_lower.span()) == 60U);
  CHECK_FALSE(negative_ttl(reply("nothing.example.test", kA, 0, 0, 3).span()));
}

TEST_CASE("An SOA whose data length does not match its fields gives no negative TTL", "[dns]") {
  Message m = reply("nothing.example.test", kA, 0, 1, 3);
  add_soa(m, 3600, 120);
  // One byte more in the record than its fields take: the MINIMUM read is
  // then not where the record ends.
  m.u8(0);
  const std::size_t rdlength_at = 12 + 22 + 4 + 2 + 2 + 2 + 4;
  m.bytes[rdlength_at + 1] = static_cast<unsigned char>(m.bytes[rdlength_at + 1] + 1);
  CHECK_FALSE(negative_ttl(m.span()));
}

TEST_CASE("A reply's TXT strings are joined per record", "[dns]") {
  Message m = reply("txt.example.test", kTxt, 2, 0);
  add_txt(m, 300, {"v=spf1 ", "ip4:192.0.2.0/24 ", "-all"});
  add_txt(m, 200, {"second"});
  auto parsed = parse_answer(RecordType::txt, ARES_SUCCESS, m.span());
  CHECK(parsed.answer.status == Status::ok);
  CHECK(parsed.answer.texts == std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all", "second"});
  CHECK(parsed.ttl == 200U);
}

TEST_CASE("MX records keep their preferences and order, without trailing dots", "[dns]") {
  Message m = reply("example.test", kMx, 2, 0);
  for (auto [pref, host] :
       {std::pair{20U, "mx2.example.test"}, std::pair{10U, "mx1.example.test"}}) {
    const auto start = m.begin_rr(kMx, 300);
    m.u16(pref);
    m.name(host);
    m.end_rr(start);
  }
  auto parsed = parse_answer(RecordType::mx, ARES_SUCCESS, m.span());
  REQUIRE(parsed.answer.status == Status::ok);
  REQUIRE(parsed.answer.mx.size() == 2);
  CHECK(parsed.answer.mx[0].preference == 20);
  CHECK(parsed.answer.mx[0].host == "mx2.example.test");
  CHECK(parsed.answer.mx[1].preference == 10);
  CHECK(parsed.answer.mx[1].host == "mx1.example.test");
  CHECK(parsed.ttl == 300U);
}

TEST_CASE("Every PTR name of a reply is returned", "[dns]") {
  Message m = reply("1.2.0.192.in-addr.arpa", kPtr, 2, 0);
  for (const char* host : {"one.example.test", "two.example.test"}) {
    const auto start = m.begin_rr(kPtr, 600);
    m.name(host);
    m.end_rr(start);
  }
  auto parsed = parse_answer(RecordType::ptr, ARES_SUCCESS, m.span());
  REQUIRE(parsed.answer.status == Status::ok);
  CHECK(parsed.answer.texts == std::vector<std::string>{"one.example.test", "two.example.test"});
  CHECK(parsed.ttl == 600U);
}

TEST_CASE("A records come back as addresses with the lowest TTL", "[dns]") {
  auto parsed = parse_answer(RecordType::a, ARES_SUCCESS, two_a_records().span());
  REQUIRE(parsed.answer.status == Status::ok);
  REQUIRE(parsed.answer.addresses.size() == 2);
  CHECK(parsed.answer.addresses[0].to_string() == "192.0.2.1");
  CHECK(parsed.answer.addresses[1].to_string() == "192.0.2.2");
  CHECK(parsed.ttl == 60U);
}

TEST_CASE("Negative answers carry the SOA's negative TTL and failures none", "[dns]") {
  Message m = reply("nothing.example.test", kA, 0, 1, 3);
  add_soa(m, 3600, 120);
  auto nx = parse_answer(RecordType::a, ARES_ENOTFOUND, m.span());
  CHECK(nx.answer.status == Status::nxdomain);
  CHECK(nx.ttl == 120U);
  auto timeout = parse_answer(RecordType::a, ARES_ETIMEOUT, {});
  CHECK(timeout.answer.status == Status::timeout);
  CHECK_FALSE(timeout.ttl);
}

TEST_CASE("A reply the parser rejects is an error", "[dns]") {
  const Message whole = two_a_records();
  for (std::size_t n = 0; n < whole.bytes.size(); ++n) {
    const std::span<const unsigned char> prefix(whole.bytes.data(), n);
    CHECK(parse_answer(RecordType::a, ARES_SUCCESS, prefix).answer.status == Status::error);
  }
  // Records of another type than asked for: the name has none of this type.
  CHECK(parse_answer(RecordType::txt, ARES_SUCCESS, whole.span()).answer.status == Status::nodata);
}

TEST_CASE("c-ares statuses map onto answer statuses", "[dns]") {
  CHECK(status_from_ares(ARES_SUCCESS) == Status::ok);
  CHECK(status_from_ares(ARES_ENOTFOUND) == Status::nxdomain);
  CHECK(status_from_ares(ARES_ENODATA) == Status::nodata);
  CHECK(status_from_ares(ARES_ESERVFAIL) == Status::servfail);
  CHECK(status_from_ares(ARES_EREFUSED) == Status::refused);
  CHECK(status_from_ares(ARES_ETIMEOUT) == Status::timeout);
  CHECK(status_from_ares(ARES_ECONNREFUSED) == Status::timeout);
  CHECK(status_from_ares(ARES_EBADNAME) == Status::error);
  CHECK(status_from_ares(ARES_EDESTRUCTION) == Status::error);
  CHECK(mailsan::dns::to_string(Status::nxdomain) == "nxdomain");
}
