// The async resolver against a real unbound started per test on a free
// loopback port: every record type, negative answers, refused and dropped
// zones, TCP fallback for large answers, the cache and its TTLs, one lookup
// for many identical queries, callers' cancellation, malformed names and
// destruction with queries in flight. Queries arriving at the server are
// counted in unbound's log.
#include <boost/asio/bind_cancellation_slot.hpp>
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
#include <variant>
#include <vector>

#include "common/dns/resolver.hpp"
#include "test/support/run_coroutine.hpp"
#include "test/support/unbound_server.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using mailsan::dns::Answer;
using mailsan::dns::RecordType;
using mailsan::dns::Resolver;
using mailsan::dns::ResolverOptions;
using mailsan::dns::Status;
using mailsan::test::run_test;
using mailsan::test::sleep_for;
using mailsan::test::UnboundServer;
using Clock = std::chrono::steady_clock;

namespace {

const std::vector<std::string> kZones = {
    R"(local-zone: "example.test." static)",
    R"(local-data: "example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 120")",
    R"(local-data: "a.example.test. 300 IN A 192.0.2.1")",
    R"(local-data: "a.example.test. 300 IN A 192.0.2.2")",
    R"(local-data: "v6.example.test. 300 IN AAAA 2001:db8::1")",
    R"(local-data: 'txt.example.test. 300 IN TXT "v=spf1 " "-all"')",
    R"(local-data: "example.test. 300 IN MX 20 mx2.example.test.")",
    R"(local-data: "example.test. 300 IN MX 10 mx1.example.test.")",
    R"(local-data: "short.example.test. 1 IN A 192.0.2.9")",
    R"(local-zone: "2.0.192.in-addr.arpa." static)",
    R"(local-data: "1.2.0.192.in-addr.arpa. 300 IN PTR host.example.test.")",
    R"(local-zone: "refused.test." refuse)",
    R"(local-zone: "dropped.test." deny)",
};

// Several long TXT records: well over 512 bytes, so the UDP reply is
// truncated and c-ares must ask again over TCP.
std::vector<std::string> zones_with_big_txt() {
  std::vector<std::string> zones = kZones;
  for (char c = 'a'; c < 'f'; ++c)
    zones.push_back("local-data: 'big.example.test. 300 IN TXT \"" + std::string(200, c) + "\"'");
  return zones;
}

ResolverOptions options_for(const UnboundServer& server) {
  ResolverOptions options;
  options.servers = {server.address()};
  options.timeout = 500ms;
  options.tries = 2;
  options.min_ttl = 1s;
  return options;
}

std::vector<std::string> strings(const std::vector<mailsan::net::IpAddress>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(a.to_string());
  return out;
}

}  // namespace

TEST_CASE("A and AAAA queries return every address with its TTL", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer a = co_await resolver.query("A.Example.Test.", RecordType::a);
    REQUIRE(a.status == Status::ok);
    CHECK_THAT(strings(a.addresses), Catch::Matchers::UnorderedEquals(
                                         std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
    CHECK(a.ttl == 300);
    CHECK_FALSE(a.from_cache);
    Answer aaaa = co_await resolver.query("v6.example.test", RecordType::aaaa);
    REQUIRE(aaaa.status == Status::ok);
    CHECK(strings(aaaa.addresses) == std::vector<std::string>{"2001:db8::1"});
    CHECK(aaaa.addresses.at(0).v6);
  }());
}

TEST_CASE("TXT, MX and PTR answers are parsed with their TTLs", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer txt = co_await resolver.query("txt.example.test", RecordType::txt);
    REQUIRE(txt.status == Status::ok);
    // One record of two strings comes back as one text.
    CHECK(txt.texts == std::vector<std::string>{"v=spf1 -all"});
    CHECK(txt.ttl == 300);

    Answer mx = co_await resolver.query("example.test", RecordType::mx);
    REQUIRE(mx.status == Status::ok);
    REQUIRE(mx.mx.size() == 2);
    std::vector<std::pair<int, std::string>> got;
    for (const auto& r : mx.mx) got.emplace_back(r.preference, r.host);
    CHECK_THAT(got, Catch::Matchers::UnorderedEquals(std::vector<std::pair<int, std::string>>{
                        {10, "mx1.example.test"}, {20, "mx2.example.test"}}));
    CHECK(mx.ttl == 300);

    Answer ptr = co_await resolver.query("1.2.0.192.in-addr.arpa", RecordType::ptr);
    REQUIRE(ptr.status == Status::ok);
    CHECK(ptr.texts == std::vector<std::string>{"host.example.test"});
    CHECK(ptr.ttl == 300);
  }());
}

TEST_CASE("A missing name is nxdomain and a missing type is nodata, cached for the SOA minimum",
          "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer missing = co_await resolver.query("nothing.example.test", RecordType::a);
    CHECK(missing.status == Status::nxdomain);
    CHECK(missing.ttl == 120);
    Answer no_type = co_await resolver.query("a.example.test", RecordType::txt);
    CHECK(no_type.status == Status::nodata);
    CHECK(no_type.ttl == 120);
    Answer again = co_await resolver.query("nothing.example.test", RecordType::a);
    CHECK(again.status == Status::nxdomain);
    CHECK(again.from_cache);
  }());
  CHECK(server.queries_for("nothing.example.test", "A") == 1);
}

TEST_CASE("A refused zone is reported as refused at once and not cached", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    const auto start = Clock::now();
    Answer answer = co_await resolver.query("x.refused.test", RecordType::a);
    CHECK(answer.status == Status::refused);
    CHECK(Clock::now() - start < 400ms);
    Answer again = co_await resolver.query("x.refused.test", RecordType::a);
    CHECK(again.status == Status::refused);
    CHECK_FALSE(again.from_cache);
  }());
  CHECK(resolver.stats().failures == 2);
}

TEST_CASE("A dropped query times out after every try, within timeout times tries", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  ResolverOptions options = options_for(server);
  options.timeout = 300ms;
  options.tries = 2;
  Resolver resolver(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    const auto start = Clock::now();
    Answer answer = co_await resolver.query("x.dropped.test", RecordType::a);
    const auto elapsed = Clock::now() - start;
    CHECK(answer.status == Status::timeout);
    CHECK(elapsed >= 550ms);
    CHECK(elapsed < 900ms);
  }());
  CHECK(server.queries_for("x.dropped.test", "A") == 2);
  CHECK(resolver.stats().timeouts == 1);
}

TEST_CASE("A TXT answer larger than 512 bytes arrives complete over TCP", "[dns]") {
  UnboundServer server(zones_with_big_txt());
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer answer = co_await resolver.query("big.example.test", RecordType::txt);
    REQUIRE(answer.status == Status::ok);
    REQUIRE(answer.texts.size() == 5);
    std::size_t total = 0;
    for (const auto& text : answer.texts) {
      CHECK(text.size() == 200);
      total += text.size();
    }
    CHECK(total == 1000);
  }());
  // The truncated UDP reply and the TCP retry are two queries at the server
  // (no UDP try timed out: it was answered at once).
  CHECK(server.queries_for("big.example.test", "TXT") == 2);
}

TEST_CASE("A second query is answered from the cache without asking the server", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer first = co_await resolver.query("a.example.test", RecordType::a);
    REQUIRE(first.status == Status::ok);
    Answer second = co_await resolver.query("A.EXAMPLE.TEST.", RecordType::a);
    REQUIRE(second.status == Status::ok);
    CHECK(second.from_cache);
    CHECK(second.addresses.size() == 2);
    CHECK(second.ttl <= 300);
    // Another type of the same name is another entry.
    Answer other = co_await resolver.query("a.example.test", RecordType::aaaa);
    CHECK_FALSE(other.from_cache);
  }());
  CHECK(server.queries_for("a.example.test", "A") == 1);
  CHECK(resolver.stats().queries == 3);
  CHECK(resolver.stats().sent == 2);
  CHECK(resolver.stats().cache_hits == 1);
}

TEST_CASE("An answer whose TTL has passed is asked for again", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer first = co_await resolver.query("short.example.test", RecordType::a);
    REQUIRE(first.status == Status::ok);
    CHECK(first.ttl == 1);
    co_await sleep_for(1100ms);
    Answer second = co_await resolver.query("short.example.test", RecordType::a);
    REQUIRE(second.status == Status::ok);
    CHECK_FALSE(second.from_cache);
  }());
  CHECK(server.queries_for("short.example.test", "A") == 2);
}

TEST_CASE("The cache honours min_ttl and the injected clock", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  ResolverOptions options = options_for(server);
  options.min_ttl = 60s;
  auto fake_now = std::make_shared<Clock::time_point>(Clock::now());
  options.clock = [fake_now] { return *fake_now; };
  Resolver resolver(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer first = co_await resolver.query("short.example.test", RecordType::a);
    CHECK(first.ttl == 60);  // raised from 1 s
    *fake_now += 59s;
    Answer cached = co_await resolver.query("short.example.test", RecordType::a);
    CHECK(cached.from_cache);
    *fake_now += 2s;
    Answer expired = co_await resolver.query("short.example.test", RecordType::a);
    CHECK_FALSE(expired.from_cache);
  }());
  CHECK(server.queries_for("short.example.test", "A") == 2);
}

TEST_CASE("Fifty concurrent identical queries make one query at the server", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  int ok = 0;
  run_test(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    int done = 0;
    for (int i = 0; i < 50; ++i)
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            Answer answer = co_await resolver.query("a.example.test", RecordType::a);
            if (answer.status == Status::ok && answer.addresses.size() == 2 && !answer.from_cache)
              ++ok;
            ++done;
          },
          asio::detached);
    while (done < 50) co_await sleep_for(5ms);
  }());
  CHECK(ok == 50);
  CHECK(server.queries_for("a.example.test", "A") == 1);
  CHECK(resolver.stats().sent == 1);
  CHECK(resolver.stats().coalesced == 49);
}

TEST_CASE("A caller cancelled by a deadline returns at once while the lookup goes on", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  ResolverOptions options = options_for(server);
  options.timeout = 1000ms;
  options.tries = 1;
  Resolver resolver(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    // A second caller on the same lookup, not cancelled.
    bool other_done = false;
    Status other_status = Status::ok;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          Answer answer = co_await resolver.query("x.dropped.test", RecordType::a);
          other_status = answer.status;
          other_done = true;
        },
        asio::detached);
    const auto start = Clock::now();
    asio::steady_timer deadline(ex, 100ms);
    auto result = co_await (resolver.query("x.dropped.test", RecordType::a) ||
                            deadline.async_wait(asio::use_awaitable));
    const auto elapsed = Clock::now() - start;
    CHECK(result.index() == 1);  // the deadline won
    CHECK(elapsed < 500ms);
    CHECK_FALSE(other_done);
    while (!other_done && Clock::now() - start < 5s) co_await sleep_for(10ms);
    CHECK(other_done);
    CHECK(other_status == Status::timeout);
  }());
  CHECK(resolver.stats().cancelled == 1);
  CHECK(resolver.stats().coalesced == 1);
}

TEST_CASE("A cancelled caller gets a timeout answer when it awaits the query alone", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  ResolverOptions options = options_for(server);
  options.timeout = 2000ms;
  Resolver resolver(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::cancellation_signal signal;
    bool done = false;
    Status status = Status::ok;
    const auto start = Clock::now();
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          Answer answer = co_await resolver.query("y.dropped.test", RecordType::a);
          status = answer.status;
          done = true;
        },
        asio::bind_cancellation_slot(signal.slot(), asio::detached));
    co_await sleep_for(50ms);
    signal.emit(asio::cancellation_type::terminal);
    while (!done && Clock::now() - start < 5s) co_await sleep_for(5ms);
    CHECK(done);
    CHECK(status == Status::timeout);
    CHECK(Clock::now() - start < 500ms);
  }());
}

TEST_CASE("Malformed names are errors without a query", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    const std::string too_long = std::string(300, 'a') + ".example.test";
    const std::string long_label = std::string(64, 'a') + ".example.test";
    const std::string names[] = {too_long, long_label,         "a..example.test", "",
                                 ".",      "a b.example.test", "a\\.example.test"};
    for (const std::string& name : names) {
      Answer answer = co_await resolver.query(name, RecordType::a);
      CHECK(answer.status == Status::error);
    }
  }());
  CHECK(resolver.stats().sent == 0);
  CHECK(resolver.stats().failures == 7);
}

TEST_CASE("Destroying the resolver with queries in flight completes them with an error", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  auto resolver = std::make_unique<Resolver>(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    int done = 0;
    std::vector<Status> statuses;
    const char* names[] = {"p.dropped.test", "q.dropped.test", "p.dropped.test"};
    for (const char* name : names)
      asio::co_spawn(
          ex,
          [&, name]() -> asio::awaitable<void> {
            Answer answer = co_await resolver->query(name, RecordType::a);
            statuses.push_back(answer.status);
            ++done;
          },
          asio::detached);
    co_await sleep_for(50ms);
    resolver.reset();
    const auto start = Clock::now();
    while (done < 3 && Clock::now() - start < 5s) co_await sleep_for(5ms);
    CHECK(done == 3);
    CHECK(statuses == std::vector<Status>(3, Status::error));
    // The sockets' waits and the timer end without touching c-ares.
    co_await sleep_for(100ms);
  }());
}

TEST_CASE("A server entry that is not an address is refused at construction", "[dns]") {
  asio::io_context io;
  ResolverOptions options;
  options.servers = {"dns.example.test:53"};
  CHECK_THROWS_AS(Resolver(io.get_executor(), options), std::invalid_argument);
  options.servers = {"127.0.0.1:0"};
  CHECK_THROWS_AS(Resolver(io.get_executor(), options), std::invalid_argument);
}

TEST_CASE("A server that is not running gives a timeout, not a hang", "[dns]") {
  asio::io_context io;
  ResolverOptions options;
  // Nothing listens there: c-ares sees ICMP port unreachable on loopback.
  UnboundServer server(kZones, false);
  options.servers = {server.address()};
  options.timeout = 300ms;
  Resolver resolver(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    const auto start = Clock::now();
    Answer answer = co_await resolver.query("a.example.test", RecordType::a);
    CHECK(answer.status == Status::timeout);
    CHECK(Clock::now() - start < 1500ms);
  }());
}

TEST_CASE("The cache drops its least recently used entry when full", "[dns]") {
  UnboundServer server(kZones);
  asio::io_context io;
  ResolverOptions options = options_for(server);
  options.cache_entries = 2;
  Resolver resolver(io.get_executor(), options);
  run_test(io, [&]() -> asio::awaitable<void> {
    co_await resolver.query("a.example.test", RecordType::a);
    co_await resolver.query("v6.example.test", RecordType::aaaa);
    // Used again, so the AAAA entry is now the least recently used.
    Answer hit = co_await resolver.query("a.example.test", RecordType::a);
    CHECK(hit.from_cache);
    co_await resolver.query("txt.example.test", RecordType::txt);
    Answer still = co_await resolver.query("a.example.test", RecordType::a);
    CHECK(still.from_cache);
    Answer dropped = co_await resolver.query("v6.example.test", RecordType::aaaa);
    CHECK_FALSE(dropped.from_cache);
  }());
  CHECK(server.queries_for("v6.example.test", "AAAA") == 2);
  CHECK(server.queries_for("a.example.test", "A") == 1);
}

TEST_CASE("a zone whose servers fail is answered SERVFAIL", "[dns]") {
  UnboundServer server({"servfail-zone: servfail.test."});
  asio::io_context io;
  Resolver resolver(io.get_executor(), options_for(server));
  run_test(io, [&]() -> asio::awaitable<void> {
    Answer a = co_await resolver.query("servfail.test", RecordType::txt);
    CHECK(a.status == Status::servfail);
  }());
}
