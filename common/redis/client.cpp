// Client: in-flight bookkeeping, command timeouts, reconnects and scripts on
// top of one HiredisConnection at a time.
//
// Every command sent is one InFlight entry, in send order, and hiredis
// reports replies in the same order, so the front entry is always the one a
// reply belongs to. Completion handlers are never run from inside hiredis:
// replies are collected while hiredis parses and handed out afterwards, so a
// resumed caller may send, cancel, stop or destroy the client freely.
//
// Timeouts cost no timer per command: one timer is armed for the oldest
// entry's deadline and re-armed for the next oldest when it fires. Since
// replies are ordered, an overdue oldest entry means the connection is stuck;
// all entries then fail with errc::timeout and the connection is replaced.
//
// With sentinels, each connect starts with asking them for the master
// (sentinel.cpp) and adds ROLE to the handshake. A switch found any way (a
// +switch-master message, READONLY, a lost or stuck connection) is one
// reconnect; the log line and the failover count come when the new master
// is in use, so there is one of each per switch.
#include "common/redis/client.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>
#include <charconv>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "common/log/log.hpp"
#include "common/net/endpoint_address.hpp"
#include "common/redis/address.hpp"
#include "common/redis/client_metrics.hpp"
#include "common/redis/hiredis_connection.hpp"
#include "common/redis/sentinel.hpp"
#include "common/redis/sentinel_replies.hpp"
#include "common/util/ascii.hpp"
#include "common/util/password_file.hpp"
#include "common/util/sha1.hpp"

namespace mailsan::redis {

namespace asio = boost::asio;

namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::not_connected:
        return "not connected to Redis";
      case errc::timeout:
        return "no reply from Redis within the command timeout";
      case errc::disconnected:
        return "the Redis connection was lost with the command in flight";
      case errc::cancelled:
        return "the Redis command was cancelled";
    }
    return "unknown Redis client error";
  }
};

using Clock = std::chrono::steady_clock;
// Commands are always awaited through use_awaitable, so the completion
// handler has one concrete type and is stored without type erasure.
using Handler =
    asio::async_result<std::decay_t<decltype(asio::use_awaitable)>, void(Result)>::handler_type;

// Commands that would break the one-reply-per-command order (pub/sub,
// MONITOR, CLIENT REPLY) or silently change what the client set up at
// connect (AUTH, SELECT, HELLO, RESET) are refused: the client owns those.
bool refused_command(std::span<const std::string_view> argv) {
  static constexpr std::string_view kRefused[] = {
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
      "monitor",   "auth",       "select",     "hello",       "reset"};
  const std::string_view name = argv.front();
  if (name.size() < 4 || name.size() > 12) return false;
  for (std::string_view refused : kRefused)
    if (util::iequals(name, refused)) return true;
  return argv.size() >= 2 && util::iequals(name, "client") && util::iequals(argv[1], "reply");
}

bool is_noscript(const Result& result) {
  return !result.ec && result.reply.is_error() && result.reply.str.starts_with("NOSCRIPT");
}

}  // namespace

const std::error_category& category() {
  static const Category instance;
  return instance;
}

Script::Script(std::string body) : body_(std::move(body)), sha1_(util::sha1_hex(body_)) {}

struct Client::Impl final : std::enable_shared_from_this<Client::Impl>, HiredisConnection::Events {
  enum class Kind : std::uint8_t {
    user,           // a caller's command; handler empty once cancelled
    handshake,      // AUTH, SELECT, PING at connect: an error fails the connect
    script_load,    // SCRIPT LOAD at connect: an error is logged only
    script_reload,  // SCRIPT LOAD after a NOSCRIPT reply
    role,           // ROLE at connect (sentinel): anything but master fails the connect
  };
  struct InFlight {
    std::optional<Handler> handler;
    Clock::time_point deadline;
    Kind kind;
  };

  // Lives in the caller's cancellation slot; finds the command by sequence
  // number, so a stale or late signal finds nothing and does nothing.
  struct CancelCommand {
    std::weak_ptr<Impl> impl;
    std::uint64_t seq;
    void operator()(asio::cancellation_type type) const {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
          asio::cancellation_type::none)
        return;
      if (auto locked = impl.lock()) locked->cancel(seq);
    }
  };

  Impl(asio::any_io_executor ex, Options options)
      : ex_(ex), options_(std::move(options)), timeout_timer_(ex), wake_(ex) {
    address_ = parse_address(options_.address, &address_error_);
    if (address_ && !unsupported_reason(*address_).empty()) {
      address_error_ = unsupported_reason(*address_);
      address_.reset();
    }
    if (address_) database_ = address_->database.value_or(options_.database);
  }

  bool sentinel() const { return address_ && address_->kind == Address::Kind::sentinel; }

  SentinelSettings sentinel_settings() const {
    return SentinelSettings{*address_, options_.sentinel_password_file, options_.connect_timeout};
  }

  ~Impl() override {
    // Client's destructor already stopped us; this only covers a connection
    // opened after that, which cannot happen, but costs nothing to handle.
    close_connection(errc::disconnected);
    post_completions();
  }

  static constexpr std::size_t kFlushBatch = 16;

  bool ready() const { return ready_ && connection_ != nullptr && connection_->alive(); }

  // --- commands ---------------------------------------------------------

  asio::awaitable<Result> command(std::span<const std::string_view> argv) {
    const auto deadline = Clock::now() + options_.command_timeout;
    if (sentinel() && running_ && !ready())
      return wait_for_master_then_send(shared_from_this(), argv, deadline);
    return async_command(argv, deadline);
  }

  asio::awaitable<Result> async_command(std::span<const std::string_view> argv,
                                        Clock::time_point deadline) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(Result)>(
        [self = shared_from_this(), deadline](Handler handler,
                                              std::span<const std::string_view> args) {
          self->start_command(std::move(handler), args, deadline);
        },
        asio::use_awaitable, argv);
  }

  // During a switch: wait until a master is in use or the command's own
  // deadline, then send (at the deadline, that fails with not_connected).
  // argv lives in the caller's co_await expression, which outlasts this.
  asio::awaitable<Result> wait_for_master_then_send(std::shared_ptr<Impl> self,
                                                    std::span<const std::string_view> argv,
                                                    Clock::time_point deadline) {
    (void)self;
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    asio::steady_timer timer(ex_, deadline);
    waiters_.push_back(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(waiters_, &timer);
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      ++stats_.commands;
      co_return Result{errc::cancelled, {}};
    }
    co_return co_await async_command(argv, deadline);
  }

  void wake_waiters() {
    for (asio::steady_timer* timer : waiters_) timer->cancel();
  }

  void start_command(Handler handler, std::span<const std::string_view> argv,
                     Clock::time_point deadline) {
    ++stats_.commands;
    if (argv.empty() || refused_command(argv)) {
      Result refused;
      refused.reply.type = Reply::Type::error;
      refused.reply.str = argv.empty() ? "ERR empty command"
                                       : "ERR " + std::string(argv.front()) +
                                             " is not supported through mailsan's Redis client";
      post_result(std::move(handler), std::move(refused));
      return;
    }
    if (!ready() || !connection_->send(argv)) {
      ++stats_.errors;
      post_result(std::move(handler), Result{errc::not_connected, {}});
      return;
    }
    auto slot = asio::get_associated_cancellation_slot(handler);
    const std::uint64_t seq = front_seq_ + in_flight_.size();
    // A command that waited for a master comes with its own, earlier
    // deadline, possibly behind commands issued after it.
    if (!in_flight_.empty() && deadline < in_flight_.back().deadline)
      deadlines_out_of_order_ = true;
    in_flight_.push_back(InFlight{std::move(handler), deadline, Kind::user});
    if (slot.is_connected()) slot.template emplace<CancelCommand>(weak_from_this(), seq);
    if (timeout_armed_ && deadline < armed_for_)
      timeout_timer_.cancel();  // its handler arms again for this deadline
    else
      arm_timeout();
    // Commands issued in one turn of the event loop leave together at the
    // next poll; past a batch of kFlushBatch, send them now so that Redis
    // works on them while we go on, instead of the two taking turns.
    if (connection_->unflushed() >= kFlushBatch) {
      connection_->flush();
      if (!connection_->alive()) {
        // Handled as after an I/O event, but not from inside this call.
        asio::post(ex_, [self = shared_from_this(), connection = connection_] {
          self->on_io_done(*connection);
        });
      }
    }
  }

  void cancel(std::uint64_t seq) {
    if (seq < front_seq_ || seq - front_seq_ >= in_flight_.size()) return;
    InFlight& entry = in_flight_[seq - front_seq_];
    if (!entry.handler) return;
    // The command stays in flight (it was sent; its reply will come and be
    // dropped) so that the replies behind it still line up.
    Handler handler = std::move(*entry.handler);
    entry.handler.reset();
    post_result(std::move(handler), Result{errc::cancelled, {}});
  }

  // After a NOSCRIPT reply: load the script again so later EVALSHAs find it.
  void reload_script(const Script& script) {
    if (!ready() ||
        std::find(reloading_.begin(), reloading_.end(), script.sha1()) != reloading_.end())
      return;
    const std::string_view argv[] = {"SCRIPT", "LOAD", script.body()};
    if (send_internal(argv, Kind::script_reload, Clock::now() + options_.command_timeout)) {
      reloading_.push_back(script.sha1());
      arm_timeout();
    }
  }

  bool send_internal(std::span<const std::string_view> argv, Kind kind,
                     Clock::time_point deadline) {
    if (connection_ == nullptr || !connection_->send(argv)) return false;
    in_flight_.push_back(InFlight{std::nullopt, deadline, kind});
    if (kind == Kind::handshake || kind == Kind::script_load || kind == Kind::role)
      ++handshake_pending_;
    return true;
  }

  // --- completions --------------------------------------------------------

  // For completions that arise inside a caller's own call (stop, cancel,
  // not connected): never resume another coroutine from inside it.
  void post_result(Handler handler, Result result) {
    auto ex = asio::get_associated_executor(handler, ex_);
    asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
      std::move(handler)(std::move(result));
    });
  }

  void post_completions() {
    for (auto& [handler, result] : completions_) post_result(std::move(handler), std::move(result));
    completions_.clear();
  }

  // For completions collected while hiredis parsed a read: run them now, on
  // the executor's thread and outside hiredis. Resumed callers mostly send
  // their next command at once, and those all leave in the next write.
  void drain_completions() {
    while (!completions_.empty()) {
      draining_.swap(completions_);
      // A handler may throw (a co_spawn completion handler can); that leaves
      // through io_context::run() as Asio intends, and the handlers not yet
      // run are posted rather than lost or run twice.
      struct PostTheRest {
        Impl& impl;
        std::size_t next = 0;
        ~PostTheRest() {
          for (; next < impl.draining_.size(); ++next) {
            auto& [handler, result] = impl.draining_[next];
            impl.post_result(std::move(handler), std::move(result));
          }
          impl.draining_.clear();
        }
      } rest{*this};
      while (rest.next < draining_.size()) {
        auto& [handler, result] = draining_[rest.next++];
        std::move(handler)(std::move(result));
      }
    }
  }

  // --- HiredisConnection::Events -----------------------------------------

  void on_reply(const redisReply* reply) override {
    if (in_flight_.empty()) return;  // hiredis and we count the same commands
    InFlight entry = std::move(in_flight_.front());
    in_flight_.pop_front();
    ++front_seq_;
    if (in_flight_.empty()) deadlines_out_of_order_ = false;
    const bool failed = reply == nullptr;
    const bool error_reply = !failed && reply->type == REDIS_REPLY_ERROR;
    switch (entry.kind) {
      case Kind::user: {
        if (!entry.handler) return;  // cancelled: the reply is dropped
        Result result;
        if (failed) {
          result.ec = fail_reason_;
          ++stats_.errors;
          if (fail_reason_ == errc::timeout) ++stats_.timeouts;
        } else {
          result.reply = to_reply(*reply);
          // The master became a replica under us: find the new one (after
          // hiredis returns, in on_io_done).
          if (error_reply && sentinel() && result.reply.str.starts_with("READONLY"))
            rediscover_ = true;
        }
        completions_.emplace_back(std::move(*entry.handler), std::move(result));
        return;
      }
      case Kind::handshake:
        handshake_reply_seen();
        if (handshake_error_.empty()) {
          if (failed)
            handshake_error_ = "connection closed during the handshake";
          else if (error_reply)
            handshake_error_.assign(reply->str, reply->len);
        }
        return;
      case Kind::script_load:
        handshake_reply_seen();
        if (failed && handshake_error_.empty())
          handshake_error_ = "connection closed during the handshake";
        if (error_reply)
          log::warning("redis_script_load_failed")
              .kv("address", options_.address)
              .kv("error", std::string_view(reply->str, reply->len));
        return;
      case Kind::role: {
        handshake_reply_seen();
        std::string role = "no reply";
        if (handshake_error_.empty() && (failed || !role_is_master(to_reply(*reply), &role)))
          handshake_error_ = "not a master (ROLE: " + role + ")";
        return;
      }
      case Kind::script_reload:
        if (!reloading_.empty()) reloading_.pop_front();
        if (error_reply)
          log::warning("redis_script_load_failed")
              .kv("address", options_.address)
              .kv("error", std::string_view(reply->str, reply->len));
        return;
    }
  }

  // The connect loop sleeps until the last handshake reply is in.
  void handshake_reply_seen() {
    if (--handshake_pending_ == 0) wake_.cancel();
  }

  void on_io_done(HiredisConnection& connection) override {
    auto self = shared_from_this();  // a resumed caller may destroy the Client
    if (&connection == connection_.get() && !connection.alive()) connection_lost();
    if (rediscover_ && &connection == connection_.get()) {
      rediscover_ = false;
      last_error_ = "READONLY: the server is a replica now";
      close_connection(errc::disconnected);
      wake_.cancel();
    }
    drain_completions();
  }

  // --- connection state ---------------------------------------------------

  // hiredis freed the connection by itself (peer closed, I/O error); every
  // entry was failed with errc::disconnected on the way.
  void connection_lost() {
    last_error_ =
        connection_->last_error().empty() ? "connection closed" : connection_->last_error();
    connection_.reset();
    ready_ = false;
    reloading_.clear();
    wake_.cancel();
  }

  // Frees the connection; every entry in flight fails with reason.
  void close_connection(errc reason) {
    ready_ = false;
    if (connection_ == nullptr) return;
    fail_reason_ = reason;
    auto connection = std::move(connection_);
    connection->close();
    // close() reported every command hiredis knew of; this is only a guard
    // that nothing is left waiting forever.
    while (!in_flight_.empty()) on_reply(nullptr);
    fail_reason_ = errc::disconnected;
    reloading_.clear();
  }

  // The oldest entry's deadline, unless a command that waited for a master
  // brought an earlier one (then all are looked at, which is rare).
  Clock::time_point earliest_deadline() const {
    if (!deadlines_out_of_order_) return in_flight_.front().deadline;
    Clock::time_point earliest = Clock::time_point::max();
    for (const InFlight& entry : in_flight_) earliest = std::min(earliest, entry.deadline);
    return earliest;
  }

  void arm_timeout() {
    if (timeout_armed_ || in_flight_.empty()) return;
    timeout_armed_ = true;
    armed_for_ = earliest_deadline();
    timeout_timer_.expires_at(armed_for_);
    timeout_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
      self->timeout_armed_ = false;
      if (self->running_) self->check_timeouts();
    });
  }

  void check_timeouts() {
    // Handshake entries have no deadline of their own: the connect timeout
    // covers them.
    if (!ready() || in_flight_.empty()) return;
    if (earliest_deadline() > Clock::now()) {
      arm_timeout();
      return;
    }
    last_error_ = "no reply within " + std::to_string(options_.command_timeout.count()) + " ms";
    close_connection(errc::timeout);
    wake_.cancel();
    drain_completions();
  }

  void set_state(bool up) {
    if (up == reported_up_) return;
    reported_up_ = up;
    if (on_state_change_) on_state_change_(up);
  }

  // --- connect loop -------------------------------------------------------

  void start() {
    if (running_) return;
    running_ = true;
    ++generation_;
    if (!address_)
      log::error("redis_bad_address").kv("address", options_.address).kv("error", address_error_);
    down_since_ = Clock::now();
    if (sentinel()) {
      watcher_ = std::make_shared<SwitchWatcher>(
          ex_, sentinel_settings(),
          [weak = weak_from_this(), generation = generation_](const net::EndpointAddress& master) {
            if (auto self = weak.lock(); self && self->current(generation))
              self->on_switch_master(master);
          });
      watcher_->start();
    }
    asio::co_spawn(ex_, supervise(shared_from_this(), generation_), asio::detached);
  }

  void stop(bool notify) {
    if (!running_) return;
    running_ = false;
    ++generation_;
    close_connection(errc::disconnected);
    if (watcher_ != nullptr) watcher_->stop();
    watcher_.reset();
    timeout_timer_.cancel();
    wake_.cancel();
    wake_waiters();
    post_completions();
    if (notify) set_state(false);
    reported_up_ = false;
  }

  bool current(std::uint64_t generation) const { return running_ && generation == generation_; }

  // The sentinels announced a new master: unless it is the one in use, drop
  // the connection and connect to it now, without the backoff.
  void on_switch_master(const net::EndpointAddress& master) {
    if (ready() && master_ && endpoint_text(*master_) == endpoint_text(master)) return;
    switch_announced_ = true;
    if (connection_ != nullptr) {
      last_error_ = "the sentinels announced a new master " + endpoint_text(master);
      close_connection(errc::disconnected);
      drain_completions();
    }
    wake_.cancel();
  }

  // Time without a usable master, counted up to now.
  void account_time_without_master() {
    if (!down_since_) return;
    const auto now = Clock::now();
    const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(now - *down_since_);
    stats_.without_master += gap;
    if (metrics_ != nullptr)
      metrics_->add_time_without_master(static_cast<std::uint64_t>(gap.count()));
    *down_since_ = now;
  }

  // A connect succeeded to `server`: one log line, and a failover counted
  // when it is not the server used before.
  void note_server_in_use(const net::EndpointAddress& server) {
    account_time_without_master();
    down_since_.reset();
    const std::string now_text = endpoint_text(server);
    const bool switched = master_ && endpoint_text(*master_) != now_text;
    if (switched) {
      ++stats_.failovers;
      if (metrics_ != nullptr) metrics_->count_failover();
      log::warning("redis_master_switched")
          .kv("address", options_.address)
          .kv("from", endpoint_text(*master_))
          .kv("to", now_text);
    } else {
      log::info("redis_connected").kv("address", options_.address).kv("server", now_text);
    }
    if (metrics_ != nullptr && (switched || !master_)) metrics_->set_master(now_text);
    master_ = server;
  }

  // Sleeps until the deadline or until wake_.cancel() (a state change).
  asio::awaitable<void> sleep_until(Clock::time_point deadline) {
    wake_.expires_at(deadline);
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  // Connects, retries with doubling backoff, and stays connected until
  // stop(). self keeps the state alive while the loop runs.
  asio::awaitable<void> supervise(std::shared_ptr<Impl> self, std::uint64_t generation) {
    (void)self;
    auto backoff = options_.reconnect_min;
    int failures = 0;
    while (current(generation)) {
      switch_announced_ = false;
      const bool up = co_await connect_once(generation);
      if (!current(generation)) break;
      if (up) {
        failures = 0;
        backoff = options_.reconnect_min;
        note_server_in_use(candidate_);
        set_state(true);
        wake_waiters();
        while (current(generation) && ready()) co_await sleep_until(Clock::time_point::max());
        if (!current(generation)) break;
        down_since_ = Clock::now();
        ++stats_.disconnects;
        log::warning("redis_disconnected")
            .kv("address", options_.address)
            .kv("reason", last_error_)
            .kv("retry_ms", static_cast<std::int64_t>(backoff.count()));
        set_state(false);
      } else {
        // Said once loudly, then quietly while the outage lasts.
        auto line = failures == 0 ? log::warning("redis_connect_failed")
                                  : log::debug("redis_connect_failed");
        line.kv("address", options_.address)
            .kv("error", last_error_)
            .kv("retry_ms", static_cast<std::int64_t>(backoff.count()));
        ++failures;
        account_time_without_master();
      }
      // A switch announced meanwhile is tried at once, with the backoff
      // started again (a +switch-master message comes once per failover).
      if (switch_announced_) {
        backoff = options_.reconnect_min;
        continue;
      }
      co_await sleep_until(Clock::now() + backoff);
      if (switch_announced_) {
        backoff = options_.reconnect_min;
        continue;
      }
      if (!up) backoff = std::min(backoff * 2, options_.reconnect_max);
    }
  }

  // One attempt: connect, then AUTH, SELECT, SCRIPT LOAD and PING pipelined
  // behind the connect; ready once all are answered within connect_timeout.
  // PING makes "ready" mean "answering" (a server that is still loading its
  // data set answers -LOADING and is tried again later).
  asio::awaitable<bool> connect_once(std::uint64_t generation) {
    last_error_.clear();
    if (!address_) {
      last_error_ = address_error_;
      co_return false;
    }
    std::string password;
    if (!options_.password_file.empty() &&
        !util::read_password_file(options_.password_file, &password, &last_error_))
      co_return false;
    net::EndpointAddress target = address_->server;
    if (sentinel()) {
      std::string error;
      auto master = co_await discover_master(ex_, sentinel_settings(), &next_sentinel_, &error);
      if (!current(generation)) co_return false;
      if (!master) {
        last_error_ = "no master from the sentinels: " + error;
        co_return false;
      }
      target = std::move(*master);
    }
    candidate_ = target;
    // hiredis would look a host name up with a blocking getaddrinfo on this
    // thread; Asio's resolver runs it on a thread of its own instead.
    if (target.kind == net::EndpointAddress::Kind::inet) {
      boost::system::error_code numeric;
      asio::ip::make_address(target.host, numeric);
      if (numeric) {
        asio::ip::tcp::resolver resolver(ex_);
        auto [rec, results] = co_await resolver.async_resolve(
            target.host, std::to_string(target.port), asio::as_tuple(asio::use_awaitable));
        if (rec || results.empty()) {
          last_error_ = "cannot resolve " + target.host + ": " +
                        (rec ? rec.message() : std::string("no address"));
          co_return false;
        }
        // A name may have several addresses (::1 and 127.0.0.1 for
        // localhost); each failed attempt moves on to the next one.
        std::vector<asio::ip::address> addresses;
        for (const auto& r : results) addresses.push_back(r.endpoint().address());
        target.host = addresses[name_attempt_++ % addresses.size()].to_string();
      }
    }
    std::string error;
    connection_ = HiredisConnection::open(ex_, target, *this, &error);
    if (connection_ == nullptr) {
      last_error_ = std::move(error);
      co_return false;
    }
    handshake_pending_ = 0;
    handshake_error_.clear();
    constexpr auto no_deadline = Clock::time_point::max();
    bool queued = true;
    if (!password.empty()) {
      const std::string_view auth[] = {"AUTH", password};
      queued = queued && send_internal(auth, Kind::handshake, no_deadline);
    }
    if (database_ != 0) {
      const std::string database = std::to_string(database_);
      const std::string_view select[] = {"SELECT", database};
      queued = queued && send_internal(select, Kind::handshake, no_deadline);
    }
    for (const Script& script : scripts_) {
      const std::string_view load[] = {"SCRIPT", "LOAD", script.body()};
      queued = queued && send_internal(load, Kind::script_load, no_deadline);
    }
    if (sentinel()) {
      const std::string_view role[] = {"ROLE"};
      queued = queued && send_internal(role, Kind::role, no_deadline);
    }
    const std::string_view ping[] = {"PING"};
    queued = queued && send_internal(ping, Kind::handshake, no_deadline);

    const auto deadline = Clock::now() + options_.connect_timeout;
    while (queued && current(generation) && connection_ != nullptr && handshake_pending_ > 0 &&
           Clock::now() < deadline)
      co_await sleep_until(deadline);
    if (!current(generation)) co_return false;  // stop() closed the connection

    if (queued && connection_ != nullptr && handshake_pending_ == 0 && handshake_error_.empty()) {
      ready_ = true;
      ++stats_.connects;
      co_return true;
    }
    if (last_error_.empty()) {
      if (!handshake_error_.empty())
        last_error_ = handshake_error_;
      else if (!queued)
        last_error_ = "cannot queue the handshake";
      else
        last_error_ = "connect timeout";
    }
    close_connection(errc::disconnected);
    co_return false;
  }

  asio::any_io_executor ex_;
  std::size_t name_attempt_ = 0;  // which of a host name's addresses to try next
  Options options_;
  std::optional<Address> address_;
  std::string address_error_;
  int database_ = 0;                             // the address's /DB, else options_.database
  std::shared_ptr<SwitchWatcher> watcher_;       // sentinel: +switch-master
  std::size_t next_sentinel_ = 0;                // the one that answered last
  net::EndpointAddress candidate_;               // the server of the connect in progress
  std::optional<net::EndpointAddress> master_;   // the server last in use
  bool switch_announced_ = false;                // a +switch-master since the last attempt
  bool rediscover_ = false;                      // READONLY seen on connection_
  std::optional<Clock::time_point> down_since_;  // no usable master since then
  std::vector<asio::steady_timer*> waiters_;     // commands waiting for a master
  ClientMetrics* metrics_ = nullptr;
  std::vector<Script> scripts_;
  std::function<void(bool)> on_state_change_;
  Stats stats_;

  std::shared_ptr<HiredisConnection> connection_;
  bool ready_ = false;  // handshake done on connection_
  bool running_ = false;
  bool reported_up_ = false;  // the last state given to on_state_change_
  std::uint64_t generation_ = 0;
  std::string last_error_;  // why the last attempt or connection failed
  int handshake_pending_ = 0;
  std::string handshake_error_;
  errc fail_reason_ = errc::disconnected;  // for entries failed by a close

  std::deque<InFlight> in_flight_;
  std::uint64_t front_seq_ = 0;        // sequence number of in_flight_.front()
  std::deque<std::string> reloading_;  // sha1 of each script_reload in flight
  std::vector<std::pair<Handler, Result>> completions_;
  std::vector<std::pair<Handler, Result>> draining_;

  asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;
  Clock::time_point armed_for_;          // when timeout_timer_ fires
  bool deadlines_out_of_order_ = false;  // see earliest_deadline()
  asio::steady_timer wake_;              // the connect loop sleeps on it; cancel() wakes it
};

Client::Client(asio::any_io_executor ex, Options options)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(options))) {}

Client::~Client() {
  // In-flight commands complete (posted) with errc::disconnected; the state
  // callback is not called, since its captures may already be gone.
  impl_->stop(false);
}

void Client::start() {
  impl_->start();
}

void Client::stop() {
  impl_->stop(true);
}

bool Client::connected() const {
  return impl_->ready();
}

void Client::register_script(const Script& script) {
  auto& scripts = impl_->scripts_;
  if (std::none_of(scripts.begin(), scripts.end(),
                   [&](const Script& s) { return s.sha1() == script.sha1(); }))
    scripts.push_back(script);
}

asio::awaitable<Result> Client::command(std::span<const std::string_view> argv) {
  return impl_->command(argv);
}

asio::awaitable<Result> Client::eval(const Script& script, std::span<const std::string_view> keys,
                                     std::span<const std::string_view> args) {
  std::shared_ptr<Impl> impl = impl_;  // *this may go away while we wait
  char numkeys[24];
  const auto numkeys_end = std::to_chars(numkeys, numkeys + sizeof numkeys, keys.size()).ptr;
  boost::container::small_vector<std::string_view, 16> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(std::string_view(numkeys, static_cast<std::size_t>(numkeys_end - numkeys)));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());

  Result result = co_await impl->command(argv);
  if (!is_noscript(result)) co_return result;

  // The server lost the script (restart, SCRIPT FLUSH, failover): run it
  // with its body this once and load it again for the next callers. A
  // cancellation that arrived meanwhile must not turn into an exception
  // from the second co_await.
  const auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) co_return Result{errc::cancelled, {}};
  impl->reload_script(script);
  argv[0] = "EVAL";
  argv[1] = script.body();
  co_return co_await impl->command(argv);
}

const Stats& Client::stats() const {
  return impl_->stats_;
}

void Client::on_state_change(std::function<void(bool connected)> callback) {
  impl_->on_state_change_ = std::move(callback);
}

void Client::set_metrics(ClientMetrics* metrics) {
  impl_->metrics_ = metrics;
}

}  // namespace mailsan::redis
