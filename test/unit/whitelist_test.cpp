#include "policyd/whitelist/whitelist.hpp"

#include <catch2/catch.hpp>

#include "policyd/policyd_config.hpp"
#include "test/support/process.hpp"

using namespace mailsan::policyd;
using mailsan::net::IpAddress;

namespace {
bool client_listed(const ClientList& list, const char* ip, const char* name) {
  auto addr = IpAddress::parse(ip);
  return list.matches(addr ? &*addr : nullptr, ip, name);
}
}  // namespace

TEST_CASE("client entries match by network, name suffix, exact name and regex", "[whitelist]") {
  ClientList list;
  std::string error;
  for (const char* e : {"192.0.2.0/24", "2001:db8::/32", "198.51.100.7", ".example.net",
                        "mx.example.org", "/^mail[0-9]+\\.partner\\.test$/"})
    REQUIRE(list.add(e, &error));
  CHECK(client_listed(list, "192.0.2.200", "unknown"));
  CHECK(client_listed(list, "::ffff:192.0.2.9", "unknown"));
  CHECK(client_listed(list, "2001:db8:1::5", "unknown"));
  CHECK(client_listed(list, "198.51.100.7", "unknown"));
  CHECK_FALSE(client_listed(list, "198.51.100.8", "unknown"));
  CHECK(client_listed(list, "203.0.113.1", "out.Example.NET"));
  CHECK_FALSE(client_listed(list, "203.0.113.1", "example.net.evil.test"));
  CHECK(client_listed(list, "203.0.113.1", "MX.example.org"));
  CHECK_FALSE(client_listed(list, "203.0.113.1", "mx2.example.org"));
  CHECK(client_listed(list, "203.0.113.1", "mail42.partner.test"));
  CHECK_FALSE(client_listed(list, "203.0.113.1", "mail.partner.test"));
  // Postfix's "unknown" never matches a name entry.
  ClientList unknown_only;
  REQUIRE(unknown_only.add("unknown", &error));
  CHECK_FALSE(client_listed(unknown_only, "203.0.113.1", "unknown"));
}

TEST_CASE("bad client entries are refused with a reason", "[whitelist]") {
  ClientList list;
  for (const char* bad : {"192.0.2.0/40", "/[unclosed/", "bad name!", "1.2.3.4/x"}) {
    std::string error;
    INFO(bad);
    CHECK_FALSE(list.add(bad, &error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("recipient entries match local parts, domains and addresses", "[whitelist]") {
  RecipientList list;
  std::string error;
  for (const char* e : {"postmaster@", "@whitelisted.example", "vip@example.com"})
    REQUIRE(list.add(e, &error));
  CHECK(list.matches("postmaster@example.com"));
  CHECK(list.matches("PostMaster@other.example"));
  CHECK(list.matches("anyone@whitelisted.example"));
  CHECK(list.matches("VIP@example.com"));
  CHECK_FALSE(list.matches("vip@example.org"));
  CHECK_FALSE(list.matches("notpostmaster@example.com"));
  CHECK_FALSE(list.matches("postmaster"));
  CHECK_FALSE(list.add("no-at-sign", &error));
}

TEST_CASE("the whitelist is built from config and client files, naming a bad line", "[whitelist]") {
  mailsan::test::TempDir dir;
  auto file = dir.path() / "clients";
  mailsan::test::write_file(
      file, "# partners\n203.0.113.0/24, .partner.test\n\n198.51.100.1 # one host\n");
  WhitelistConfig config;
  config.clients = {"192.0.2.1"};
  config.client_files = {file.string()};
  config.recipients = {"abuse@"};
  config.ccert_fingerprints = {"AB:CD:EF:01"};
  auto w = Whitelist::build(config);
  CHECK(w->clients.size() == 4);
  CHECK(w->recipients.matches("abuse@example.com"));
  CHECK(w->fingerprint_listed("ab:cd:ef:01"));
  CHECK(w->fingerprint_listed("ABCDEF01"));
  CHECK_FALSE(w->fingerprint_listed("ABCDEF02"));

  mailsan::test::write_file(file, "203.0.113.0/24\n\n10.0.0.0/99\n");
  try {
    Whitelist::build(config);
    FAIL("a bad entry must be refused");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(file.string() + ":3:") != std::string::npos);
  }
}

TEST_CASE("whitelist files report a change once", "[whitelist]") {
  mailsan::test::TempDir dir;
  auto file = dir.path() / "clients";
  mailsan::test::write_file(file, "192.0.2.1\n");
  WhitelistFiles files({file.string()});
  CHECK_FALSE(files.changed());
  mailsan::test::write_file(file, "192.0.2.1\n192.0.2.2\n");
  CHECK(files.changed());
  CHECK_FALSE(files.changed());
}
