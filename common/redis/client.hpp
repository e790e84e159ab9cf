// Async Redis client on Asio over hiredis' async API.
//
// One connection carries many commands in flight: commands issued by many
// sessions in the same turn of the event loop go out in one write (pipelined),
// and replies come back in order. A command that is not answered within
// command_timeout fails with errc::timeout; since replies are ordered, the
// connection is then considered stuck, dropped and re-established with
// backoff. While disconnected, commands fail at once with errc::not_connected
// so callers can apply their failure mode without waiting.
//
// With a sentinel: address (address.hpp) the server is the master the
// sentinels name, confirmed with ROLE; the client finds it again on every
// reconnect, on a READONLY error reply (the server became a replica) and at
// once on a +switch-master message from the sentinels. Commands issued
// while it has no master wait for one up to command_timeout instead of
// failing at once, so that a failover costs callers a delay, not an error.
// A cluster: address is refused (errc::not_connected, logged at start).
//
// Scripts are registered once and run with EVALSHA; the client SCRIPT LOADs
// them on every (re)connect and, on a NOSCRIPT reply, falls back to EVAL.
//
// Single-threaded: use from the executor's thread only.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "common/redis/reply.hpp"

namespace mailsan::redis {

enum class errc {
  not_connected = 1,  // no connection now (down, or reconnecting)
  timeout,            // no reply within command_timeout
  disconnected,       // the connection dropped with the command in flight
  cancelled,          // the caller's cancellation slot fired
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

struct Options {
  std::string address = "tcp:127.0.0.1:6379";  // any form of address.hpp
  std::string password_file;                   // AUTH with its first line when set
  std::string sentinel_password_file;          // the same for the sentinels
  int database = 0;                            // SELECT when non-zero; the address's /DB wins
  // Covers the connect and the AUTH/SELECT/SCRIPT LOAD/PING behind it.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};
  std::chrono::milliseconds reconnect_min{100};  // backoff doubles up to max
  std::chrono::milliseconds reconnect_max{5000};
};

struct Stats {
  std::uint64_t commands = 0;  // command() and eval() calls (an EVAL retry counts again)
  std::uint64_t errors = 0;    // not_connected, timeout, disconnected
  std::uint64_t timeouts = 0;  // commands failed with errc::timeout
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t failovers = 0;                  // the master changed (sentinel: addresses)
  std::chrono::milliseconds without_master{0};  // up to the last attempt or connect
};

class ClientMetrics;

struct Result {
  std::error_code ec;  // transport failure; a Redis error reply is reply.is_error()
  Reply reply;
};

template <class T>
concept StringViewLike = std::is_convertible_v<const T&, std::string_view>;

class Script {
 public:
  explicit Script(std::string body);
  const std::string& body() const { return body_; }
  const std::string& sha1() const { return sha1_; }  // hex, computed locally

 private:
  std::string body_;
  std::string sha1_;
};

class Client {
 public:
  Client(boost::asio::any_io_executor ex, Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts connecting; the client reconnects on its own until stop().
  void start();
  void stop();
  bool connected() const;

  // Scripts to SCRIPT LOAD on every connect; register before start().
  void register_script(const Script& script);

  // Sends one command (argv form, binary safe). Supports per-operation
  // cancellation: a cancelled command completes with errc::cancelled and its
  // reply, when it comes, is dropped. Commands that would break the reply
  // order or the connection's set-up (the SUBSCRIBE family, MONITOR, CLIENT
  // REPLY, AUTH, SELECT, HELLO, RESET) get an error reply without being sent.
  boost::asio::awaitable<Result> command(std::span<const std::string_view> argv);
  // argv must stay valid until the returned awaitable is first co_awaited:
  // pass it in the co_await expression itself.
  //
  // Note: g++ 12 rejects a braced list inside a co_await expression
  // ("array used as initializer", a GCC coroutine bug), so inside coroutines
  // use the variadic form below or a named array.
  boost::asio::awaitable<Result> command(std::initializer_list<std::string_view> argv) {
    return command(std::span<const std::string_view>(argv.begin(), argv.size()));
  }
  // command("GET", key): each argument anything convertible to string_view.
  template <StringViewLike... Args>
  boost::asio::awaitable<Result> command(std::string_view name, const Args&... args) {
    const std::array<std::string_view, 1 + sizeof...(Args)> argv{name, std::string_view(args)...};
    co_return co_await command(std::span<const std::string_view>(argv));
  }
  // EVALSHA script keys... args...; EVAL on NOSCRIPT (and SCRIPT LOAD again).
  boost::asio::awaitable<Result> eval(const Script& script, std::span<const std::string_view> keys,
                                      std::span<const std::string_view> args);

  const Stats& stats() const;
  // Called with true on connect and false on disconnect (for logs and gauges).
  void on_state_change(std::function<void(bool connected)> callback);
  // Metrics to keep up to date (the master in use, failovers, time without
  // a master); must outlive the client.
  void set_metrics(ClientMetrics* metrics);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailsan::redis

template <>
struct std::is_error_code_enum<mailsan::redis::errc> : std::true_type {};
