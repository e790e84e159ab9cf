// The async Redis client on a sentinel: address against real redis-server
// processes (test/support/sentinel_set.hpp): the master found through the
// sentinels, a server that says it is no master refused after READONLY,
// and the promoted replica used without a restart of the client.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "common/redis/client.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/run_coroutine.hpp"
#include "test/support/sentinel_set.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using mailsan::redis::Client;
using mailsan::redis::Options;
using mailsan::redis::Result;
using mailsan::test::RedisServer;
using mailsan::test::run_test;
using mailsan::test::SentinelSet;
using mailsan::test::sleep_for;
using Clock = std::chrono::steady_clock;

namespace {

// The port of the server a command reached ("" on failure).
asio::awaitable<std::string> server_port(Client& client) {
  Result r = co_await client.command("CONFIG", "GET", "port");
  if (r.ec || r.reply.elements.size() != 2) co_return std::string();
  co_return r.reply.elements[1].str;
}

}  // namespace

TEST_CASE("a sentinel client leaves a master turned replica at its READONLY for the promoted one",
          "[redis][sentinel][failure]") {
  SentinelSet set;
  // Another server the master is made a replica of, behind the sentinels'
  // backs: it answers READONLY and ROLE slave from then on.
  RedisServer elsewhere(true, {"--requirepass", "redis-secret", "--masterauth", "redis-secret"});
  asio::io_context io;
  Options o;
  o.address = set.address() + "/1";
  o.password_file = set.redis_password_file().string();
  o.sentinel_password_file = set.sentinel_password_file().string();
  o.connect_timeout = 1000ms;
  o.command_timeout = 2000ms;
  o.reconnect_min = 20ms;
  o.reconnect_max = 500ms;
  Client client(io.get_executor(), o);
  run_test(io, [&]() -> asio::awaitable<void> {
    client.start();
    Result first = co_await client.command("SET", "k", "before");
    REQUIRE_FALSE(first.ec);
    CHECK(first.reply.str == "OK");
    CHECK(co_await server_port(client) == std::to_string(set.master().port()));
    // The /1 of the address selected database 1.
    CHECK(set.master().cli({"-n", "1", "GET", "k"}) == "before");

    set.master().cli({"REPLICAOF", "127.0.0.1", std::to_string(elsewhere.port())});
    Result refused = co_await client.command("SET", "k", "during");
    REQUIRE_FALSE(refused.ec);
    CHECK(refused.reply.is_error());
    CHECK(refused.reply.str.starts_with("READONLY"));

    // The client now finds the server the sentinels name to be no master
    // and keeps asking. The sentinels would take their master claiming to
    // be a replica for down after a while; a failover asked for now is the
    // same to the client, sooner. It follows on its own.
    co_await sleep_for(300ms);
    CHECK_FALSE(client.connected());
    CHECK(set.sentinel(1).cli({"SENTINEL", "FAILOVER", SentinelSet::kMasterName}) == "OK");
    const auto deadline = Clock::now() + 40s;
    std::string port;
    while (Clock::now() < deadline) {
      Result r = co_await client.command("SET", "k", "after");
      if (!r.ec && r.reply.str == "OK") {
        port = co_await server_port(client);
        break;
      }
      // Never written to the old master: each attempt is refused or waits.
      if (!r.ec) CHECK(r.reply.str.starts_with("READONLY"));
      co_await sleep_for(50ms);
    }
    CHECK(port == std::to_string(set.replica().port()));
    CHECK(client.stats().failovers == 1);
    CHECK(client.stats().without_master > 0ms);
    client.stop();
  }());
}
