#include "policyd/server/policy_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <list>

#include "common/daemon/listener.hpp"
#include "common/log/log.hpp"
#include "common/log/rate_limited.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

namespace {
daemon::ListenerOptions listener_options() {
  daemon::ListenerOptions o;
  // Postfix holds policy connections open for minutes; a peer that vanished
  // must not keep its slot until idle_timeout.
  o.tcp_keepalive = true;
  return o;
}
}  // namespace

struct PolicyServer::Impl : std::enable_shared_from_this<PolicyServer::Impl> {
  Impl(asio::any_io_executor ex, PolicyResponder& r, PolicydMetrics& m)
      : executor(ex),
        responder(r),
        metrics(m),
        listeners(ex, listener_options()),
        idle_timer(ex),
        refused_log(log::Level::warning, "too_many_connections"),
        evicted_log(log::Level::warning, "connection_evicted") {}

  struct Connection {
    explicit Connection(daemon::StreamSocket s, std::string p)
        : socket(std::move(s)), peer(std::move(p)) {}
    daemon::StreamSocket socket;
    std::string peer;
    Clock::time_point last_active = Clock::now();
    bool busy = false;     // a request is being answered or its reply written
    bool closing = false;  // closed by the server; its coroutine ends soon
  };

  asio::any_io_executor executor;
  PolicyResponder& responder;
  PolicydMetrics& metrics;
  daemon::Listeners listeners;
  // Least recently active first: the idle sweep and the eviction at
  // max_connections look at the front only.
  std::list<Connection> open;
  std::size_t closing = 0;
  std::size_t max_connections = 4096;
  Clock::duration idle_timeout = std::chrono::seconds(330);
  asio::steady_timer idle_timer;
  std::size_t in_flight = 0;
  bool stopping = false;
  log::RateLimited refused_log;
  log::RateLimited evicted_log;

  void touch(std::list<Connection>::iterator conn) {
    conn->last_active = Clock::now();
    open.splice(open.end(), open, conn);
  }

  // Shuts the socket so that the connection's pending read returns; the
  // connection's own coroutine then removes it.
  void close(Connection& c) {
    if (c.closing) return;
    c.closing = true;
    ++closing;
    boost::system::error_code ignored;
    c.socket.shutdown(daemon::StreamSocket::shutdown_both, ignored);
    c.socket.close(ignored);
  }

  void accept(daemon::StreamSocket socket, std::string peer) {
    if (stopping) return;
    if (open.size() - closing >= max_connections) {
      Connection* idlest = nullptr;
      for (auto& c : open)
        if (!c.busy && !c.closing) {
          idlest = &c;
          break;
        }
      if (!idlest) {
        // Every connection has a request in flight: the newcomer waits for
        // none of them.
        metrics.connections_refused.inc();
        refused_log.record([&](log::Line& line) {
          line.kv("limit", static_cast<std::uint64_t>(max_connections));
        });
        return;  // the socket closes as it goes out of scope
      }
      metrics.connections_evicted.inc();
      evicted_log.record(
          [&](log::Line& line) { line.kv("limit", static_cast<std::uint64_t>(max_connections)); });
      log::debug("connection_evicted")
          .kv("peer", idlest->peer)
          .kv("idle_s", std::chrono::duration<double>(Clock::now() - idlest->last_active).count());
      close(*idlest);
    }
    // Entered in `open` now, not when the coroutine starts, so that a burst
    // of accepts sees every connection it made.
    auto conn = open.emplace(open.end(), std::move(socket), std::move(peer));
    asio::co_spawn(executor, serve(conn), asio::detached);
  }

  asio::awaitable<void> serve(std::list<Connection>::iterator conn) {
    auto self = shared_from_this();
    metrics.connections.inc();
    metrics.connections_total.inc();
    auto& socket = conn->socket;

    PolicyRequestParser parser;
    MessageHeaders headers;
    std::array<char, 8192> buffer;
    std::string replies;
    while (!stopping && !conn->closing) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_nothrow);
      if (ec || conn->closing) break;
      touch(conn);
      std::string_view data(buffer.data(), n);
      bool bad = false;
      // A client may send several requests at once; answer them in order and
      // write the replies together.
      while (!data.empty()) {
        std::size_t used = 0;
        auto status = parser.feed(data, &used);
        data.remove_prefix(used);
        if (status == PolicyRequestParser::Status::need_more) break;
        if (status == PolicyRequestParser::Status::error) {
          metrics.protocol_errors.inc();
          log::warning("bad_request").kv("peer", conn->peer).kv("error", parser.error());
          bad = true;
          break;
        }
        PolicyRequest request = parser.take();
        // Busy until the reply is written: a connection is not closed
        // between a request and its answer.
        conn->busy = true;
        ++in_flight;
        std::string action = co_await responder.answer(std::move(request), headers);
        --in_flight;
        replies += encode_reply(action);
      }
      if (!replies.empty()) {
        auto [wec, written] =
            co_await asio::async_write(socket, asio::buffer(replies), use_nothrow);
        (void)written;
        conn->busy = false;
        if (wec) break;
        replies.clear();
        // Idle time counts from the answer: Postfix's own max_idle does.
        touch(conn);
      }
      // The protocol has no error reply: a bad request gets none, and the
      // connection is closed so Postfix starts afresh.
      if (bad) break;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    if (conn->closing) --closing;
    open.erase(conn);
    metrics.connections.dec();
  }

  // One timer for all connections: `open` is ordered by last activity, so
  // the next expiry is always at the front.
  asio::awaitable<void> close_idle_connections() {
    auto self = shared_from_this();
    while (!stopping) {
      auto now = Clock::now();
      auto next = now + idle_timeout;
      for (auto& c : open) {
        auto expiry = c.last_active + idle_timeout;
        if (expiry > now) {
          next = std::min(next, expiry);
          break;
        }
        // A request in flight is bounded by request_timeout; the connection
        // moves to the back when it is answered.
        if (c.busy || c.closing) continue;
        metrics.connections_idle_closed.inc();
        log::debug("idle_timeout").kv("peer", c.peer);
        close(c);
      }
      idle_timer.expires_at(next);
      co_await idle_timer.async_wait(use_nothrow);
    }
  }
};

PolicyServer::PolicyServer(asio::any_io_executor ex, PolicyResponder& responder,
                           PolicydMetrics& metrics)
    : impl_(std::make_shared<Impl>(std::move(ex), responder, metrics)) {}

PolicyServer::~PolicyServer() {
  stop();
}

void PolicyServer::listen(const net::EndpointAddress& address) {
  impl_->listeners.listen(address);
}

void PolicyServer::start() {
  std::weak_ptr<Impl> weak = impl_;
  impl_->listeners.start([weak](daemon::StreamSocket socket, std::string peer) {
    if (auto impl = weak.lock()) impl->accept(std::move(socket), std::move(peer));
  });
  asio::co_spawn(impl_->executor, impl_->close_idle_connections(), asio::detached);
}

void PolicyServer::set_max_connections(std::size_t n) {
  impl_->max_connections = n;
}

void PolicyServer::set_idle_timeout(Clock::duration timeout) {
  impl_->idle_timeout = timeout;
  impl_->idle_timer.cancel();  // the sweep recomputes its next wake-up
}

void PolicyServer::stop() {
  if (impl_->stopping) return;
  impl_->stopping = true;
  impl_->listeners.stop();
  impl_->idle_timer.cancel();
  // Idle connections are closed now; busy ones finish their request first
  // (their loop sees `stopping` after writing the reply).
  for (auto& c : impl_->open)
    if (!c.busy) impl_->close(c);
}

std::size_t PolicyServer::connections() const {
  return impl_->open.size();
}
std::size_t PolicyServer::requests_in_flight() const {
  return impl_->in_flight;
}

}  // namespace mailsan::policyd
