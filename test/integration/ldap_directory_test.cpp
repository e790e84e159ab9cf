// The LDAP Directory against a real slapd started per test on a free port:
// lookups of the seed deployment's schema, filter injection through
// make_filter, simple bind with a password file, and the faults a daemon
// meets in production (server stopped, restarted, hanging, overloaded),
// plus cancellation and destruction with searches queued.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ldap/directory.hpp"
#include "test/support/process.hpp"
#include "test/support/run_coroutine.hpp"
#include "test/support/slapd_server.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using mailsan::ldap::Directory;
using mailsan::ldap::make_filter;
using mailsan::ldap::Options;
using mailsan::ldap::SearchResult;
using mailsan::test::run_test;
using mailsan::test::SlapdServer;
using mailsan::test::sleep_for;
using Clock = std::chrono::steady_clock;
using Status = SearchResult::Status;

namespace {

const std::string base = SlapdServer::suffix;
const std::string by_address = "(&(objectClass=inetLocalMailRecipient)(mailLocalAddress=%s))";

Options options_for(const SlapdServer& slapd) {
  Options o;
  o.uri = slapd.uri();
  o.timeout = 2000ms;
  o.workers = 2;
  return o;
}

std::vector<std::string> mail_attributes() {
  return {"mailLocalAddress", "mailRoutingAddress", "mailHost"};
}

// The address is a string_view so that calls with a literal put no
// temporary with a destructor into the co_await expression (g++ 12).
asio::awaitable<SearchResult> lookup(Directory& directory, std::string_view address) {
  auto search = directory.search(base, make_filter(by_address, address), mail_attributes());
  SearchResult result = co_await std::move(search);
  co_return result;
}

}  // namespace

TEST_CASE("a search finds jclark by mailLocalAddress with the routing attributes", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Directory directory(io.get_executor(), options_for(slapd));
  run_test(io, [&]() -> asio::awaitable<void> {
    const char* const addresses[] = {"jclark@example.test", "jamie@example.test"};
    for (const char* address : addresses) {
      SearchResult r = co_await lookup(directory, address);
      REQUIRE(r.status == Status::ok);
      REQUIRE(r.entries.size() == 1);
      auto& entry = r.entries.front();
      CHECK(entry["mailRoutingAddress"] == std::vector<std::string>{"jclark@mail.example.test"});
      CHECK(entry["mailHost"] == std::vector<std::string>{"mail.example.test"});
      CHECK(entry["mailLocalAddress"] ==
            std::vector<std::string>{"jclark@example.test", "jamie@example.test"});
    }
  }());
}

TEST_CASE("attribute keys are spelled as the caller asked for them", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Directory directory(io.get_executor(), options_for(slapd));
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::vector<std::string> attributes{"mailroutingaddress"};
    auto search = directory.search(base, "(uid=jclark)", attributes);
    SearchResult r = co_await std::move(search);
    REQUIRE(r.status == Status::ok);
    REQUIRE(r.entries.size() == 1);
    CHECK(r.entries.front().count("mailroutingaddress") == 1);
    CHECK(r.entries.front().size() == 1);
  }());
}

TEST_CASE("a search that matches nothing is ok with no entries", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Directory directory(io.get_executor(), options_for(slapd));
  run_test(io, [&]() -> asio::awaitable<void> {
    SearchResult r = co_await lookup(directory, "nobody@example.test");
    CHECK(r.status == Status::ok);
    CHECK(r.entries.empty());
    CHECK(r.error.empty());

    // A base that does not exist is nothing matched too, not an outage.
    auto search = directory.search("ou=nowhere,dc=example,dc=test", "(uid=jclark)", {});
    r = co_await std::move(search);
    CHECK(r.status == Status::ok);
    CHECK(r.entries.empty());
  }());
}

TEST_CASE("filter-injection attempts through make_filter match nothing and do not error",
          "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Directory directory(io.get_executor(), options_for(slapd));
  run_test(io, [&]() -> asio::awaitable<void> {
    using namespace std::string_literals;
    const std::string attempts[] = {
        "*",
        ")(uid=*",
        "*)(|(objectClass=*",
        "jclark@example.test)(objectClass=*",
        "\0"s,
        "\0)(uid=*"s,
        "\\2a",
        "j\xc3\xbcrgen@example.test",
        "\xff\xfe",
        std::string(10000, 'a'),
        std::string(10000, '*'),
    };
    for (const std::string& attempt : attempts) {
      INFO("value of " << attempt.size() << " bytes starting " << attempt.substr(0, 20));
      SearchResult r = co_await lookup(directory, attempt);
      CHECK(r.status == Status::ok);
      CHECK(r.entries.empty());
      CHECK(r.error.empty());
    }
  }());
}

// Not an injection (the NUL arrives escaped as \00), but a property of
// slapd's IA5 matching rules that callers must know: the normalized value
// ends at the first NUL, so "jclark@example.test\0anything" finds jclark.
// A recipient with a NUL or other control byte has to be refused before it
// is looked up. This pins the behaviour so that a change is noticed.
TEST_CASE("slapd ignores what follows a NUL in an IA5 assertion value", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Directory directory(io.get_executor(), options_for(slapd));
  run_test(io, [&]() -> asio::awaitable<void> {
    using namespace std::string_literals;
    const std::string address = "jclark@example.test\0garbage"s;
    SearchResult r = co_await lookup(directory, address);
    CHECK(r.status == Status::ok);
    CHECK(r.entries.size() == 1);
  }());
}

TEST_CASE("a bind DN with a password file works and a wrong password is unavailable", "[ldap]") {
  SlapdServer slapd(SlapdServer::jclark_ldif + "\n" + SlapdServer::service_account_ldif);
  mailsan::test::write_file(slapd.dir() / "right.secret",
                            std::string(SlapdServer::service_password) + "\n");
  mailsan::test::write_file(slapd.dir() / "wrong.secret", "not-the-password\n");
  asio::io_context io;

  Options right = options_for(slapd);
  right.bind_dn = SlapdServer::service_dn;
  right.password_file = (slapd.dir() / "right.secret").string();
  Options wrong = right;
  wrong.password_file = (slapd.dir() / "wrong.secret").string();
  Options missing = right;
  missing.password_file = (slapd.dir() / "missing.secret").string();

  Directory bound(io.get_executor(), right);
  Directory refused(io.get_executor(), wrong);
  Directory unreadable(io.get_executor(), missing);
  run_test(io, [&]() -> asio::awaitable<void> {
    SearchResult r = co_await lookup(bound, "jclark@example.test");
    CHECK(r.status == Status::ok);
    CHECK(r.entries.size() == 1);

    r = co_await lookup(refused, "jclark@example.test");
    CHECK(r.status == Status::unavailable);
    CHECK(r.entries.empty());
    CHECK_THAT(r.error, Catch::Contains("bind"));

    // Every search tries the bind again (the password may have been fixed);
    // it fails the same way, not worse.
    r = co_await lookup(refused, "jclark@example.test");
    CHECK(r.status == Status::unavailable);

    r = co_await lookup(unreadable, "jclark@example.test");
    CHECK(r.status == Status::unavailable);
    CHECK_THAT(r.error, Catch::Contains("password file"));
  }());
}

TEST_CASE("a stopped slapd is unavailable at once and searches succeed again once it is back",
          "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Directory directory(io.get_executor(), options_for(slapd));
  run_test(io, [&]() -> asio::awaitable<void> {
    SearchResult r = co_await lookup(directory, "jclark@example.test");
    REQUIRE(r.status == Status::ok);

    slapd.stop();
    for (int i = 0; i < 3; ++i) {
      const auto before = Clock::now();
      r = co_await lookup(directory, "jclark@example.test");
      CHECK(r.status == Status::unavailable);
      CHECK_FALSE(r.error.empty());
      CHECK(Clock::now() - before < 2000ms);
    }

    slapd.start();
    r = co_await lookup(directory, "jclark@example.test");
    CHECK(r.status == Status::ok);
    CHECK(r.entries.size() == 1);
  }());
}

TEST_CASE("a restart between two searches goes unnoticed", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Options options = options_for(slapd);
  options.workers = 1;  // so the second search meets the stale connection
  Directory directory(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    SearchResult r = co_await lookup(directory, "jclark@example.test");
    REQUIRE(r.status == Status::ok);
    slapd.stop();
    slapd.start();
    r = co_await lookup(directory, "jclark@example.test");
    CHECK(r.status == Status::ok);
    CHECK(r.entries.size() == 1);
  }());
}

TEST_CASE("a server that hangs is unavailable after the timeout, once", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Options options = options_for(slapd);
  options.timeout = 500ms;
  Directory directory(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    SearchResult r = co_await lookup(directory, "jclark@example.test");
    REQUIRE(r.status == Status::ok);
    slapd.pause();
    const auto before = Clock::now();
    r = co_await lookup(directory, "jclark@example.test");
    const auto took = Clock::now() - before;
    slapd.resume();
    CHECK(r.status == Status::unavailable);
    CHECK(took >= 400ms);
    CHECK(took < 1500ms);
    r = co_await lookup(directory, "jclark@example.test");
    CHECK(r.status == Status::ok);
  }());
}

TEST_CASE("200 concurrent searches on 2 workers are all answered", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Directory directory(io.get_executor(), options_for(slapd));
  int found = 0;
  int not_found = 0;
  int other = 0;
  run_test(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 200; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            const bool known = i % 2 == 0;
            const std::string address =
                known ? "jclark@example.test" : "u" + std::to_string(i) + "@x.test";
            SearchResult r = co_await lookup(directory, address);
            if (r.status != Status::ok)
              ++other;
            else if (r.entries.size() == (known ? 1u : 0u))
              ++(known ? found : not_found);
            else
              ++other;
          },
          asio::detached);
    }
    const auto deadline = Clock::now() + 30s;
    while (found + not_found + other < 200 && Clock::now() < deadline) co_await sleep_for(10ms);
  }());
  CHECK(found == 100);
  CHECK(not_found == 100);
  CHECK(other == 0);
}

TEST_CASE("a search can be cancelled with || against a timer", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Options options = options_for(slapd);
  options.timeout = 3000ms;
  Directory directory(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    slapd.pause();
    asio::steady_timer deadline(io, 100ms);
    SearchResult seen;
    seen.error = "not completed";
    auto search_late = [&]() -> asio::awaitable<void> {
      seen = co_await lookup(directory, "jclark@example.test");
    };
    const auto before = Clock::now();
    auto either = search_late() || deadline.async_wait(asio::use_awaitable);
    auto winner = co_await std::move(either);
    CHECK(winner.index() == 1);
    CHECK(seen.status == Status::unavailable);
    CHECK(seen.error == "cancelled");
    CHECK(Clock::now() - before < 1000ms);
    slapd.resume();
    // The worker's late result was dropped; the next search gets its own.
    SearchResult r = co_await lookup(directory, "jamie@example.test");
    CHECK(r.status == Status::ok);
    CHECK(r.entries.size() == 1);
  }());
}

TEST_CASE("a full queue refuses a search at once as busy", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Options options = options_for(slapd);
  options.workers = 1;
  options.queue_limit = 2;
  options.timeout = 1000ms;
  Directory directory(io.get_executor(), options);
  std::vector<SearchResult> results;
  run_test(io, [&]() -> asio::awaitable<void> {
    slapd.pause();
    for (int i = 0; i < 3; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            results.push_back(co_await lookup(directory, "jclark@example.test"));
          },
          asio::detached);
      co_await sleep_for(50ms);  // the first is taken by the worker before the others queue
    }
    const auto before = Clock::now();
    SearchResult r = co_await lookup(directory, "jclark@example.test");
    CHECK(r.status == Status::unavailable);
    CHECK(r.error == "busy");
    CHECK(Clock::now() - before < 200ms);
    CHECK(results.empty());
    slapd.resume();
    const auto deadline = Clock::now() + 10s;
    while (results.size() < 3 && Clock::now() < deadline) co_await sleep_for(10ms);
  }());
  REQUIRE(results.size() == 3);
}

TEST_CASE("destroying the Directory completes queued searches as unavailable", "[ldap]") {
  SlapdServer slapd;
  asio::io_context io;
  Options options = options_for(slapd);
  options.workers = 1;
  options.timeout = 1000ms;
  auto directory = std::make_unique<Directory>(io.get_executor(), options);
  std::vector<SearchResult> results;
  run_test(io, [&]() -> asio::awaitable<void> {
    slapd.pause();
    for (int i = 0; i < 5; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            results.push_back(co_await lookup(*directory, "jclark@example.test"));
          },
          asio::detached);
    }
    co_await sleep_for(100ms);
    // Joins the worker, which gives up on the hanging server after the timeout.
    directory.reset();
    const auto deadline = Clock::now() + 10s;
    while (results.size() < 5 && Clock::now() < deadline) co_await sleep_for(10ms);
    slapd.resume();
  }());
  REQUIRE(results.size() == 5);
  int shut_down = 0;
  for (const SearchResult& r : results) {
    CHECK(r.status == Status::unavailable);
    shut_down += r.error == "directory shut down";
  }
  CHECK(shut_down == 4);
}
