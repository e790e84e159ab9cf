// mailsan-policyd's connection limits, run as a real process against a real
// redis-server: idle connections are closed after idle_timeout, and at
// max_connections the longest-idle connection makes room for a newcomer,
// never one whose request is being answered.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "test/support/policyd_process.hpp"
#include "test/support/redis_server.hpp"

using namespace mailsan::test;
using namespace std::chrono_literals;

namespace {

PolicydSettings settings_with(const RedisServer& redis, const std::string& extra_top) {
  PolicydSettings s;
  s.redis = redis.address();
  s.greylist_delay = 60;
  s.extra_top = extra_top;
  return s;
}

// A request answered without Redis: DUNNO at the DATA stage.
const std::map<std::string, std::string> kDataRequest = {{"protocol_state", "DATA"}};

}  // namespace

TEST_CASE("a connection without a request for idle_timeout is closed, an active one is not",
          "[policyd][connections]") {
  RedisServer redis;
  PolicydProcess policyd(settings_with(redis, "idle_timeout = 1\n"));
  PolicyClient idle(policyd.port());
  PolicyClient active(policyd.port());
  PolicyClient silent(policyd.port());  // never sends a byte
  REQUIRE(idle.ask(kDataRequest) == "DUNNO");
  auto asked = std::chrono::steady_clock::now();
  // The active client asks more often than idle_timeout, for longer than it.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(300ms);
    REQUIRE(active.ask(kDataRequest) == "DUNNO");
  }
  CHECK(idle.closed_by_server(100ms));
  CHECK(silent.closed_by_server(100ms));
  CHECK(active.ask(kDataRequest) == "DUNNO");
  CHECK(std::chrono::steady_clock::now() - asked >= 1s);
  INFO(policyd.log());
  CHECK(policyd.metric("mailsan_policy_connections_idle_closed_total") == 2);
  CHECK(policyd.metric("mailsan_policy_connections") == 1);
}

TEST_CASE("the idle wait does not cut a connection before idle_timeout", "[policyd][connections]") {
  RedisServer redis;
  PolicydProcess policyd(settings_with(redis, "idle_timeout = 3\n"));
  PolicyClient client(policyd.port());
  REQUIRE(client.ask(kDataRequest) == "DUNNO");
  CHECK_FALSE(client.closed_by_server(2s));
  CHECK(client.ask(kDataRequest) == "DUNNO");
  CHECK(client.closed_by_server(5s));
}

TEST_CASE("at max_connections a newcomer is served and the longest-idle connection is closed",
          "[policyd][connections]") {
  RedisServer redis;
  PolicydProcess policyd(settings_with(redis, "max_connections = 2\n"));
  PolicyClient oldest(policyd.port());
  REQUIRE(oldest.ask(kDataRequest) == "DUNNO");
  std::this_thread::sleep_for(50ms);
  PolicyClient newer(policyd.port());
  REQUIRE(newer.ask(kDataRequest) == "DUNNO");
  std::this_thread::sleep_for(50ms);
  // Asked last, so the connection made first is now also the one idle longest...
  PolicyClient newcomer(policyd.port());
  CHECK(newcomer.ask(kDataRequest) == "DUNNO");
  CHECK(oldest.closed_by_server(2s));
  CHECK(newer.ask(kDataRequest) == "DUNNO");
  // ...but idleness counts, not age: `newcomer` is idle longest now.
  std::this_thread::sleep_for(50ms);
  PolicyClient fourth(policyd.port());
  CHECK(fourth.ask(kDataRequest) == "DUNNO");
  CHECK(newcomer.closed_by_server(2s));
  CHECK(newer.ask(kDataRequest) == "DUNNO");
  INFO(policyd.log());
  CHECK(policyd.metric("mailsan_policy_connections_evicted_total") == 2);
  CHECK(policyd.metric("mailsan_policy_connections_refused_total") == 0);
  CHECK(policyd.log().find("connection_evicted limit=2 count=1") != std::string::npos);
}

TEST_CASE("a connection with a request in flight is never closed to make room",
          "[policyd][connections]") {
  RedisServer redis;
  PolicydProcess policyd(settings_with(redis, "max_connections = 2\n"));
  PolicyClient waiting(policyd.port());
  REQUIRE(waiting.ask(kDataRequest) == "DUNNO");
  std::this_thread::sleep_for(50ms);
  PolicyClient idle(policyd.port());
  REQUIRE(idle.ask(kDataRequest) == "DUNNO");
  // Redis holds its replies for a while, so the greylisting request of the
  // connection idle the longest is in flight when the newcomer comes.
  redis.cli({"CLIENT", "PAUSE", "1500"});
  waiting.send_raw(encode_request(rcpt_request("192.0.2.7", "a@example.net", "b@example.com")));
  std::this_thread::sleep_for(200ms);
  PolicyClient newcomer(policyd.port());
  CHECK(newcomer.ask(kDataRequest) == "DUNNO");
  CHECK(idle.closed_by_server(2s));
  std::string reply;
  REQUIRE_NOTHROW(reply = waiting.read_reply(5s));
  CHECK(reply.rfind("DEFER_IF_PERMIT", 0) == 0);
  CHECK(waiting.ask(kDataRequest) == "DUNNO");
  INFO(policyd.log());
  CHECK(policyd.metric("mailsan_policy_connections_evicted_total") == 1);
}

TEST_CASE("when every connection has a request in flight the newcomer is refused",
          "[policyd][connections]") {
  RedisServer redis;
  PolicydProcess policyd(settings_with(redis, "max_connections = 1\n"));
  PolicyClient busy(policyd.port());
  REQUIRE(busy.ask(kDataRequest) == "DUNNO");
  redis.cli({"CLIENT", "PAUSE", "1500"});
  busy.send_raw(encode_request(rcpt_request("192.0.2.8", "a@example.net", "b@example.com")));
  std::this_thread::sleep_for(200ms);
  PolicyClient newcomer(policyd.port());
  CHECK(newcomer.closed_by_server(2s));
  std::string reply;
  REQUIRE_NOTHROW(reply = busy.read_reply(5s));
  CHECK(reply.rfind("DEFER_IF_PERMIT", 0) == 0);
  INFO(policyd.log());
  CHECK(policyd.metric("mailsan_policy_connections_refused_total") == 1);
  CHECK(policyd.metric("mailsan_policy_connections_evicted_total") == 0);
}
