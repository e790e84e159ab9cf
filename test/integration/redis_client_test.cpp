// The async Redis client against a real redis-server started per test on a
// free port: replies, pipelining, binary safety, scripts, and the faults a
// daemon meets in production (server killed, restarted, stalled, wrong
// password), plus cancellation and destruction with commands in flight.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/redis/client.hpp"
#include "test/support/process.hpp"
#include "test/support/redis_server.hpp"
#include "test/support/run_coroutine.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using mailsan::redis::Client;
using mailsan::redis::errc;
using mailsan::redis::Options;
using mailsan::redis::Reply;
using mailsan::redis::Result;
using mailsan::redis::Script;
using mailsan::test::RedisServer;
using mailsan::test::run_test;
using mailsan::test::sleep_for;
using Clock = std::chrono::steady_clock;

namespace {

Options quick_options(const std::string& address) {
  Options o;
  o.address = address;
  o.connect_timeout = 1000ms;
  o.command_timeout = 2000ms;
  o.reconnect_min = 20ms;
  o.reconnect_max = 200ms;
  return o;
}

// Polls, since "connected" is a state the client reaches on its own.
asio::awaitable<bool> eventually_connected(Client& client, Clock::duration limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!client.connected() && Clock::now() < deadline) co_await sleep_for(10ms);
  co_return client.connected();
}

asio::awaitable<bool> eventually_disconnected(Client& client, Clock::duration limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (client.connected() && Clock::now() < deadline) co_await sleep_for(10ms);
  co_return !client.connected();
}

// Until a PING gets PONG (the client reconnects by itself in between).
asio::awaitable<bool> eventually_answers(Client& client, Clock::duration limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    Result r = co_await client.command("PING");
    if (!r.ec && r.reply.str == "PONG") co_return true;
    co_await sleep_for(20ms);
  }
  co_return false;
}

asio::awaitable<void> wait_until(const std::function<bool()>& done, Clock::duration limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!done() && Clock::now() < deadline) co_await sleep_for(5ms);
}

}  // namespace

TEST_CASE("a client answers basic commands with replies of the right type", "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options(redis.address()));
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));

    Result r = co_await client.command("PING");
    CHECK_FALSE(r.ec);
    CHECK(r.reply.type == Reply::Type::status);
    CHECK(r.reply.str == "PONG");

    r = co_await client.command("SET", "greeting", "hello");
    CHECK(r.reply.type == Reply::Type::status);
    CHECK(r.reply.str == "OK");
    r = co_await client.command("GET", "greeting");
    CHECK(r.reply.type == Reply::Type::string);
    CHECK(r.reply.str == "hello");
    r = co_await client.command("GET", "no-such-key");
    CHECK(r.reply.is_nil());
    r = co_await client.command("INCRBY", "counter", "5");
    CHECK(r.reply.type == Reply::Type::integer);
    CHECK(r.reply.integer == 5);
    co_await client.command("RPUSH", "list", "a", "b", "c");
    r = co_await client.command("LRANGE", "list", "0", "-1");
    REQUIRE(r.reply.type == Reply::Type::array);
    REQUIRE(r.reply.elements.size() == 3);
    CHECK(r.reply.elements[2].str == "c");

    // A Redis error is a reply, not a transport failure.
    r = co_await client.command("NO-SUCH-COMMAND");
    CHECK_FALSE(r.ec);
    CHECK(r.reply.is_error());

    // Commands that would break reply order or the connection's set-up are
    // refused locally, and the connection goes on working.
    r = co_await client.command("subscribe", "news");
    CHECK(r.reply.is_error());
    r = co_await client.command("SELECT", "2");
    CHECK(r.reply.is_error());
    r = co_await client.command("ECHO", "still fine");
    CHECK(r.reply.str == "still fine");
    client.stop();
  }());
  CHECK(client.stats().connects == 1);
  CHECK(client.stats().errors == 0);
  CHECK(client.stats().commands == 11);
}

TEST_CASE("a client is ready as soon as the handshake is answered, not at the connect timeout",
          "[redis]") {
  RedisServer redis(true, {"--requirepass", "pw"});
  mailsan::test::write_file(redis.dir() / "password", "pw\n");
  asio::io_context io;
  Options options = quick_options(redis.address());
  options.connect_timeout = 5s;
  options.password_file = (redis.dir() / "password").string();
  options.database = 1;
  Client client(io.get_executor(), options);
  client.register_script(Script("return 1"));
  const auto before = Clock::now();
  client.start();
  Clock::duration took{};
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    took = Clock::now() - before;
    client.stop();
  }());
  CHECK(took < 2s);
}

TEST_CASE("ten thousand concurrent commands from many coroutines are all answered in order",
          "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options(redis.address()));
  client.start();
  constexpr int kCoroutines = 10000;
  std::vector<long long> counter_seen(kCoroutines, -1);
  int echoes_right = 0;
  int finished = 0;
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    for (int i = 0; i < kCoroutines; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            // All INCRs go out in the order the coroutines start, so the
            // i-th one must see i + 1; the ECHO shows no reply went astray.
            Result r = co_await client.command("INCR", "shared-counter");
            if (!r.ec) counter_seen[i] = r.reply.integer;
            const std::string payload = "payload-" + std::to_string(i);
            r = co_await client.command("ECHO", payload);
            if (!r.ec && r.reply.str == payload) ++echoes_right;
            ++finished;
          },
          asio::detached);
    }
    co_await wait_until([&] { return finished == kCoroutines; }, 30s);
    client.stop();
  }());
  REQUIRE(finished == kCoroutines);
  CHECK(echoes_right == kCoroutines);
  int in_order = 0;
  for (int i = 0; i < kCoroutines; ++i) in_order += counter_seen[i] == i + 1;
  CHECK(in_order == kCoroutines);
  CHECK(client.stats().errors == 0);
  CHECK(client.stats().commands == 2 * kCoroutines);
}

TEST_CASE("arguments and replies are binary safe", "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options(redis.address()));
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    std::string value("\0\r\n$3\r\n*-+:\xff\xfe", 14);
    for (int i = 0; i < 100000; ++i) value.push_back(static_cast<char>(i * 7919 % 256));
    const std::string key("key\0with\r\nbytes", 15);

    Result r = co_await client.command("SET", key, value);
    CHECK(r.reply.str == "OK");
    r = co_await client.command("GET", key);
    CHECK(r.reply.type == Reply::Type::string);
    CHECK(r.reply.str == value);

    // An empty string is a value, not nil.
    co_await client.command("SET", "empty", "");
    r = co_await client.command("GET", "empty");
    CHECK(r.reply.type == Reply::Type::string);
    CHECK(r.reply.str.empty());

    // More arguments than fit the client's on-stack argument arrays.
    std::vector<std::string> items;
    for (int i = 0; i < 100; ++i) items.push_back(std::string("item\0", 5) + std::to_string(i));
    std::vector<std::string_view> argv{"RPUSH", "many"};
    argv.insert(argv.end(), items.begin(), items.end());
    r = co_await client.command(argv);
    CHECK(r.reply.integer == 100);
    r = co_await client.command("LRANGE", "many", "0", "-1");
    REQUIRE(r.reply.elements.size() == 100);
    CHECK(r.reply.elements[99].str == items[99]);
    client.stop();
  }());
}

TEST_CASE("EVALSHA runs a registered script whose name is the sha1 Redis computes", "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options(redis.address()));
  const Script script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
  client.register_script(script);
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    // Loaded at connect.
    Result r = co_await client.command("SCRIPT", "EXISTS", script.sha1());
    REQUIRE(r.reply.elements.size() == 1);
    CHECK(r.reply.elements[0].integer == 1);
    r = co_await client.command("SCRIPT", "LOAD", script.body());
    CHECK(r.reply.str == script.sha1());

    const std::string_view keys[] = {"visits"};
    const std::string_view args[] = {"an arg"};
    r = co_await client.eval(script, keys, args);
    CHECK_FALSE(r.ec);
    REQUIRE(r.reply.elements.size() == 3);
    CHECK(r.reply.elements[0].str == "visits");
    CHECK(r.reply.elements[1].str == "an arg");
    CHECK(r.reply.elements[2].integer == 1);
    r = co_await client.eval(script, keys, args);
    CHECK(r.reply.elements[2].integer == 2);

    // A script error is an error reply.
    const Script broken("return redis.call('NO-SUCH-COMMAND')");
    r = co_await client.eval(broken, {}, {});
    CHECK_FALSE(r.ec);
    CHECK(r.reply.is_error());
    client.stop();
  }());
  CHECK(redis.cli({"GET", "visits"}) == "2");
}

TEST_CASE("a script still runs after SCRIPT FLUSH, through EVAL, and is loaded again", "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options(redis.address()));
  const Script script("return redis.call('INCR', KEYS[1])");
  client.register_script(script);
  client.start();
  int right = 0;
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    const std::string_view keys[] = {"n"};
    Result r = co_await client.eval(script, keys, {});
    CHECK(r.reply.integer == 1);

    r = co_await client.command("SCRIPT", "FLUSH");
    CHECK(r.reply.str == "OK");
    r = co_await client.command("SCRIPT", "EXISTS", script.sha1());
    CHECK(r.reply.elements.at(0).integer == 0);

    // Many callers hit NOSCRIPT at once; every one still gets its result.
    int finished = 0;
    for (int i = 0; i < 64; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            const std::string_view k[] = {"n"};
            Result res = co_await client.eval(script, k, {});
            right += !res.ec && res.reply.type == Reply::Type::integer;
            ++finished;
          },
          asio::detached);
    }
    co_await wait_until([&] { return finished == 64; });
    r = co_await client.command("SCRIPT", "EXISTS", script.sha1());
    CHECK(r.reply.elements.at(0).integer == 1);

    // A script never registered works the same way.
    const Script unregistered("return 'made it'");
    r = co_await client.eval(unregistered, {}, {});
    CHECK(r.reply.str == "made it");
    r = co_await client.eval(unregistered, {}, {});
    CHECK(r.reply.str == "made it");
    client.stop();
  }());
  CHECK(right == 64);
  CHECK(redis.cli({"GET", "n"}) == "65");
}

TEST_CASE(
    "when the server dies, commands in flight fail with disconnected and new ones fail at "
    "once with not_connected",
    "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Options options = quick_options(redis.address());
  options.command_timeout = 20s;  // far longer than the test: no timeout may be involved
  Client client(io.get_executor(), options);
  std::vector<bool> states;
  client.on_state_change([&](bool up) { states.push_back(up); });
  client.start();
  std::vector<std::error_code> outcomes;
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    for (int i = 0; i < 5; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            // Blocks in the server until the server goes away.
            Result r = co_await client.command("BLPOP", "never-filled", "0");
            outcomes.push_back(r.ec);
          },
          asio::detached);
    }
    co_await sleep_for(200ms);  // sent and blocking
    REQUIRE(outcomes.empty());
    redis.stop();
    co_await wait_until([&] { return outcomes.size() == 5; });
    CHECK_FALSE(client.connected());

    const auto before = Clock::now();
    Result r = co_await client.command("PING");
    CHECK(r.ec == errc::not_connected);
    CHECK(Clock::now() - before < 1s);
    r = co_await client.eval(Script("return 1"), {}, {});
    CHECK(r.ec == errc::not_connected);
    client.stop();
  }());
  REQUIRE(outcomes.size() == 5);
  for (const auto& ec : outcomes) CHECK(ec == errc::disconnected);
  CHECK(states == std::vector<bool>{true, false});
  CHECK(client.stats().disconnects == 1);
  CHECK(client.stats().errors == 7);
  CHECK(client.stats().timeouts == 0);
}

TEST_CASE("the client reconnects by itself when the server comes back on the same port",
          "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options(redis.address()));
  std::vector<bool> states;
  client.on_state_change([&](bool up) { states.push_back(up); });
  const Script script("return 'scripted'");
  client.register_script(script);
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    redis.stop();
    REQUIRE(co_await eventually_disconnected(client));
    Result r = co_await client.command("PING");
    CHECK(r.ec == errc::not_connected);
    co_await sleep_for(300ms);  // a few failed attempts with backoff

    redis.start();
    REQUIRE(co_await eventually_connected(client));
    r = co_await client.command("PING");
    CHECK(r.reply.str == "PONG");
    // The new server got the script at connect.
    r = co_await client.command("SCRIPT", "EXISTS", script.sha1());
    CHECK(r.reply.elements.at(0).integer == 1);
    client.stop();
  }());
  CHECK(states == std::vector<bool>{true, false, true, false});
  CHECK(client.stats().connects == 2);
  CHECK(client.stats().disconnects == 1);
}

TEST_CASE(
    "a command with no reply within command_timeout fails with timeout and the client "
    "recovers",
    "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Options options = quick_options(redis.address());
  options.command_timeout = 300ms;
  options.connect_timeout = 300ms;
  Client client(io.get_executor(), options);
  client.start();
  std::vector<std::error_code> outcomes;
  Clock::duration waited{};
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    // The server stops answering every client but the one pausing it.
    REQUIRE(redis.cli({"CLIENT", "PAUSE", "1500", "ALL"}) == "OK");
    const auto before = Clock::now();
    for (int i = 0; i < 3; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            Result r = co_await client.command("PING");
            outcomes.push_back(r.ec);
          },
          asio::detached);
    }
    co_await wait_until([&] { return outcomes.size() == 3; });
    waited = Clock::now() - before;
    CHECK(co_await eventually_answers(client));
    client.stop();
  }());
  REQUIRE(outcomes.size() == 3);
  for (const auto& ec : outcomes) CHECK(ec == errc::timeout);
  CHECK(waited >= 250ms);
  CHECK(waited < 1400ms);  // well before the pause ends
  CHECK(client.stats().timeouts == 3);
  CHECK(client.stats().disconnects >= 1);
  CHECK(client.stats().connects >= 2);
}

TEST_CASE("a command can be cancelled with || against a timer, and its late reply is dropped",
          "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Options options = quick_options(redis.address());
  options.command_timeout = 5s;
  Client client(io.get_executor(), options);
  const Script script("return ARGV[1]");
  client.register_script(script);
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    REQUIRE(redis.cli({"CLIENT", "PAUSE", "800", "ALL"}) == "OK");

    std::error_code seen;
    auto echo_late = [&]() -> asio::awaitable<void> {
      Result r = co_await client.command("ECHO", "late");
      seen = r.ec;
    };
    asio::steady_timer deadline(io, 100ms);
    const auto before = Clock::now();
    auto winner = co_await (echo_late() || deadline.async_wait(asio::use_awaitable));
    CHECK(winner.index() == 1);
    CHECK(seen == errc::cancelled);
    CHECK(Clock::now() - before < 500ms);

    std::error_code seen_eval;
    auto eval_late = [&]() -> asio::awaitable<void> {
      const std::string_view args[] = {"late eval"};
      Result r = co_await client.eval(script, {}, args);
      seen_eval = r.ec;
    };
    deadline.expires_after(100ms);
    winner = co_await (eval_late() || deadline.async_wait(asio::use_awaitable));
    CHECK(winner.index() == 1);
    CHECK(seen_eval == errc::cancelled);

    // The cancelled commands' replies arrive first after the pause and are
    // dropped; this command gets its own reply.
    Result r = co_await client.command("ECHO", "next");
    CHECK_FALSE(r.ec);
    CHECK(r.reply.str == "next");
    CHECK(client.connected());

    // A command that wins the race is unaffected by the timer.
    deadline.expires_after(5s);
    auto fast = [&]() -> asio::awaitable<Result> { co_return co_await client.command("PING"); };
    auto result = co_await (fast() || deadline.async_wait(asio::use_awaitable));
    REQUIRE(result.index() == 0);
    CHECK(std::get<0>(result).reply.str == "PONG");
    client.stop();
  }());
  CHECK(client.stats().timeouts == 0);
  CHECK(client.stats().disconnects == 0);
}

TEST_CASE("AUTH uses the first line of the password file", "[redis]") {
  RedisServer redis(true, {"--requirepass", "s3cret pass"});
  mailsan::test::write_file(redis.dir() / "right", "s3cret pass\nsecond line ignored\n");
  mailsan::test::write_file(redis.dir() / "wrong", "not it\n");
  asio::io_context io;
  Options right = quick_options(redis.address());
  right.password_file = (redis.dir() / "right").string();
  Options wrong = quick_options(redis.address());
  wrong.password_file = (redis.dir() / "wrong").string();
  Options missing = quick_options(redis.address());
  missing.password_file = (redis.dir() / "does-not-exist").string();
  Client good(io.get_executor(), right);
  Client bad(io.get_executor(), wrong);
  Client none(io.get_executor(), quick_options(redis.address()));
  Client no_file(io.get_executor(), missing);
  for (Client* c : {&good, &bad, &none, &no_file}) c->start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(good));
    Result r = co_await good.command("ACL", "WHOAMI");
    CHECK(r.reply.str == "default");

    co_await sleep_for(300ms);
    for (Client* c : {&bad, &none, &no_file}) {
      CHECK_FALSE(c->connected());
      r = co_await c->command("PING");
      CHECK(r.ec == errc::not_connected);
    }
    for (Client* c : {&good, &bad, &none, &no_file}) c->stop();
  }());
  CHECK(good.stats().connects == 1);
  CHECK(bad.stats().connects == 0);
  CHECK(none.stats().connects == 0);
  CHECK(no_file.stats().connects == 0);
}

TEST_CASE("SELECT puts the client's keys in the configured database", "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Options options = quick_options(redis.address());
  options.database = 5;
  Client client(io.get_executor(), options);
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    Result r = co_await client.command("SET", "where", "db5");
    CHECK(r.reply.str == "OK");
    client.stop();
  }());
  CHECK(redis.cli({"-n", "5", "GET", "where"}) == "db5");
  CHECK(redis.cli({"-n", "0", "EXISTS", "where"}) == "0");
}

TEST_CASE("a unix socket address works", "[redis]") {
  mailsan::test::TempDir socket_dir("mailsan-sock");
  const std::string socket_path = (socket_dir.path() / "redis.sock").string();
  RedisServer redis(true, {"--unixsocket", socket_path, "--unixsocketperm", "700"});
  asio::io_context io;
  Client client(io.get_executor(), quick_options("unix:" + socket_path));
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    Result r = co_await client.command("SET", "via", "unix");
    CHECK(r.reply.str == "OK");
    r = co_await client.command("CLIENT", "INFO");
    CHECK(r.reply.str.find("addr=" + socket_path) != std::string::npos);
    client.stop();
  }());
  CHECK(redis.cli({"GET", "via"}) == "unix");
}

TEST_CASE("a client with nothing listening keeps trying and fails commands with not_connected",
          "[redis]") {
  asio::io_context io;
  const auto port = mailsan::test::free_tcp_port();
  Client client(io.get_executor(), quick_options("tcp:127.0.0.1:" + std::to_string(port)));
  Client bad_address(io.get_executor(), quick_options("tcp:no-port-here"));
  client.start();
  bad_address.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    co_await sleep_for(300ms);
    CHECK_FALSE(client.connected());
    Result r = co_await client.command("PING");
    CHECK(r.ec == errc::not_connected);
    CHECK(r.ec.message() == "not connected to Redis");
    r = co_await bad_address.command("PING");
    CHECK(r.ec == errc::not_connected);
    client.stop();
    bad_address.stop();
  }());
  CHECK(client.stats().connects == 0);
  CHECK(client.stats().errors == 1);
}

TEST_CASE("stop() fails commands in flight with disconnected and later ones with not_connected",
          "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Options options = quick_options(redis.address());
  options.command_timeout = 20s;
  Client client(io.get_executor(), options);
  client.start();
  std::vector<std::error_code> outcomes;
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    for (int i = 0; i < 20; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            Result r = co_await client.command("BLPOP", "never-filled", "0");
            outcomes.push_back(r.ec);
          },
          asio::detached);
    }
    co_await sleep_for(100ms);
    client.stop();
    co_await wait_until([&] { return outcomes.size() == 20; });
    Result r = co_await client.command("PING");
    CHECK(r.ec == errc::not_connected);
  }());
  REQUIRE(outcomes.size() == 20);
  for (const auto& ec : outcomes) CHECK(ec == errc::disconnected);
}

TEST_CASE("a client destroyed with commands in flight completes them and does not crash",
          "[redis]") {
  RedisServer redis;
  asio::io_context io;
  auto client = std::make_unique<Client>(io.get_executor(), quick_options(redis.address()));
  client->start();
  std::vector<std::error_code> outcomes;
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(*client));
    // Some blocked in the server, some still in the output buffer, some
    // cancellable: all must come back without touching freed memory.
    for (int i = 0; i < 50; ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            asio::steady_timer never(io, 1h);
            if (i % 2 == 0) {
              Result r = co_await client->command("BLPOP", "never-filled", "0");
              outcomes.push_back(r.ec);
            } else {
              auto cmd = [&]() -> asio::awaitable<void> {
                Result r = co_await client->command("BLPOP", "never-filled", "0");
                outcomes.push_back(r.ec);
              };
              co_await (cmd() || never.async_wait(asio::use_awaitable));
            }
          },
          asio::detached);
    }
    co_await sleep_for(100ms);
    client.reset();
    co_await wait_until([&] { return outcomes.size() == 50; });
  }());
  REQUIRE(outcomes.size() == 50);
  for (const auto& ec : outcomes) CHECK(ec == errc::disconnected);
}

TEST_CASE("a caller may destroy the client from inside its own reply", "[redis]") {
  RedisServer redis;
  asio::io_context io;
  auto client = std::make_unique<Client>(io.get_executor(), quick_options(redis.address()));
  client->start();
  int answered = 0;
  int failed = 0;
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(*client));
    // The replies arrive in one read; the first caller to resume destroys
    // the client while the others' replies are still being handed out.
    for (int i = 0; i < 20; ++i) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            Result r = co_await client->command("PING");
            if (r.ec)
              ++failed;
            else
              ++answered;
            client.reset();
          },
          asio::detached);
    }
    co_await wait_until([&] { return answered + failed == 20; });
  }());
  CHECK(answered + failed == 20);
  CHECK(answered >= 1);
}

TEST_CASE("a stopped client can be started again", "[redis]") {
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options(redis.address()));
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    client.stop();
    CHECK_FALSE(client.connected());
    Result r = co_await client.command("PING");
    CHECK(r.ec == errc::not_connected);
    client.start();
    REQUIRE(co_await eventually_connected(client));
    r = co_await client.command("PING");
    CHECK(r.reply.str == "PONG");
    client.stop();
  }());
  CHECK(client.stats().connects == 2);
  CHECK(client.stats().disconnects == 0);
}

TEST_CASE("pipelined throughput of one client from 64 coroutines", "[.bench][redis]") {
  RedisServer redis;
  asio::io_context io;
  Options options = quick_options(redis.address());
  Client client(io.get_executor(), options);
  const Script script(
      "local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], 300) return n");
  client.register_script(script);
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    for (const char* what : {"PING", "EVALSHA"}) {
      const bool evalsha = std::string_view(what) == "EVALSHA";
      long long done = 0;
      int running = 64;
      const auto stop_at = Clock::now() + 3s;
      const auto started = Clock::now();
      for (int i = 0; i < 64; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
              const std::string key = "{bench}:" + std::to_string(i % 1000);
              const std::string_view keys[] = {key};
              while (Clock::now() < stop_at) {
                // Not a ?: between two co_awaits: g++ 12 miscompiles that.
                Result r;
                if (evalsha)
                  r = co_await client.eval(script, keys, {});
                else
                  r = co_await client.command("PING");
                if (r.ec || r.reply.is_error()) break;
                ++done;
              }
              --running;
            },
            asio::detached);
      }
      co_await wait_until([&] { return running == 0; }, 20s);
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      std::cout << what << ": " << done << " commands in " << seconds
                << " s = " << static_cast<long long>(done / seconds)
                << " commands/s from 64 coroutines\n";
    }
    client.stop();
  }());
  CHECK(client.stats().errors == 0);
}

TEST_CASE("a host name is looked up without blocking and its addresses are tried in turn",
          "[redis]") {
  // localhost may come back as ::1 before 127.0.0.1, where this server is not.
  RedisServer redis;
  asio::io_context io;
  Client client(io.get_executor(), quick_options("tcp:localhost:" + std::to_string(redis.port())));
  client.start();
  run_test(io, [&]() -> asio::awaitable<void> {
    REQUIRE(co_await eventually_connected(client));
    Result r = co_await client.command("SET", "via", "name");
    CHECK(r.reply.str == "OK");
    client.stop();
  }());
  CHECK(redis.cli({"GET", "via"}) == "name");
}
