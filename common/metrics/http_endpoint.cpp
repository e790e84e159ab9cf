// The metrics listener: accepts, reads one request head under a deadline,
// writes one response under a deadline, closes. The HTTP itself is in
// http_request.cpp.
//
// SECURITY: it talks to whoever can reach metrics_listen (normally loopback
// or a monitoring network). Every connection is bounded in bytes, time and
// number, and a failure only ends that connection.
#include "common/metrics/http_endpoint.hpp"

// GCC 12 with -O1 and the sanitizers pairs the coroutine frame's delete with
// the wrong operator new in Asio's awaitable_frame_base and reports a
// mismatch that is not there (the frame uses the class's own new/delete).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <set>
#include <stdexcept>

#include "common/log/log.hpp"
#include "common/log/rate_limited.hpp"
#include "common/metrics/http_request.hpp"
#include "common/net/endpoint_address.hpp"

namespace mailsan::metrics {
namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// The state shared by the endpoint object and its coroutines, which keep it
// alive until they end.
struct Listener {
  Listener(asio::any_io_executor ex, const Registry& r)
      : strand(asio::make_strand(ex)), registry(r) {}

  asio::strand<asio::any_io_executor> strand;
  const Registry& registry;
  HttpLimits limits;
  std::optional<tcp::acceptor> acceptor;
  unsigned short port = 0;
  // Touched only on the strand.
  bool stopped = false;
  std::set<tcp::socket*> connections;
};

using SharedListener = std::shared_ptr<Listener>;

// Removes a connection from the open set however its coroutine ends.
struct Registration {
  std::set<tcp::socket*>& set;
  tcp::socket* socket;
  ~Registration() { set.erase(socket); }
};

asio::awaitable<void> serve(SharedListener impl, tcp::socket socket) {
  if (impl->stopped || impl->connections.size() >= impl->limits.max_connections) co_return;
  impl->connections.insert(&socket);
  Registration registration{impl->connections, &socket};

  asio::steady_timer deadline(socket.get_executor());
  // One deadline for the whole head: a client trickling a byte at a time
  // cannot hold the connection longer than the timeout.
  deadline.expires_after(impl->limits.timeout);
  RequestHeadReader reader(impl->limits.max_head);
  std::array<char, 2048> buffer;
  while (reader.state() == RequestHeadReader::State::need_more) {
    auto result = co_await (socket.async_read_some(asio::buffer(buffer), use_tuple) ||
                            deadline.async_wait(use_tuple));
    if (result.index() == 1) co_return;  // timed out: close without a reply
    auto [ec, n] = std::get<0>(result);
    if (ec) {
      // A client that half-closes after a partial head gets a 400, so that
      // `printf garbage | nc` sees an answer; other errors just end.
      if (ec != asio::error::eof || reader.head().empty()) co_return;
      break;
    }
    reader.feed(std::string_view(buffer.data(), n));
  }

  std::string reply;
  switch (reader.state()) {
    case RequestHeadReader::State::complete:
      reply = build_response(reader.head(), [&] { return impl->registry.render(); });
      break;
    case RequestHeadReader::State::too_large:
      // Closing is the whole answer: the client may still be sending, and a
      // reply would likely be lost to the reset anyway.
      co_return;
    default:
      reply = bad_request_response();
  }

  deadline.expires_after(impl->limits.timeout);
  co_await (asio::async_write(socket, asio::buffer(reply), use_tuple) ||
            deadline.async_wait(use_tuple));
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

asio::awaitable<void> accept_loop(SharedListener impl) {
  asio::steady_timer pause(impl->strand);
  log::RateLimited failed_log(log::Level::warning, "metrics_accept_failed");
  while (!impl->stopped) {
    auto [ec, socket] = co_await impl->acceptor->async_accept(use_tuple);
    if (ec == asio::error::operation_aborted || impl->stopped) co_return;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning.
      failed_log.record([&](log::Line& line) { line.kv("error", ec.message()); });
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(impl->strand, serve(impl, std::move(socket)), asio::detached);
  }
}

}  // namespace

struct HttpEndpoint::Impl : Listener {
  using Listener::Listener;
};

HttpEndpoint::HttpEndpoint(asio::any_io_executor ex, const Registry& registry)
    : impl_(std::make_shared<Impl>(std::move(ex), registry)) {}

HttpEndpoint::~HttpEndpoint() {
  stop();
}

void HttpEndpoint::set_limits(const HttpLimits& limits) {
  impl_->limits = limits;
}

void HttpEndpoint::start(const std::string& listen) {
  if (listen.empty()) return;
  if (impl_->acceptor) throw std::logic_error("metrics endpoint started twice");

  std::string error;
  auto address = net::parse_endpoint(listen, &error, net::PortZero::allowed);
  if (!address) throw std::runtime_error("metrics listen address '" + listen + "': " + error);
  if (address->kind != net::EndpointAddress::Kind::inet)
    throw std::runtime_error("metrics listen address '" + listen + "': must be HOST:PORT");

  // A numeric address only: the daemons make no blocking name lookups.
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(address->host, ec);
  if (ec)
    throw std::runtime_error("metrics listen address '" + listen + "': must be an IP address");
  const tcp::endpoint endpoint(ip, address->port);

  tcp::acceptor acceptor(impl_->strand);
  try {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.code().message());
  }
  impl_->port = acceptor.local_endpoint().port();
  impl_->acceptor.emplace(std::move(acceptor));
  asio::co_spawn(impl_->strand, accept_loop(impl_), asio::detached);
}

void HttpEndpoint::stop() {
  asio::dispatch(impl_->strand, [impl = impl_] {
    if (impl->stopped) return;
    impl->stopped = true;
    boost::system::error_code ignored;
    if (impl->acceptor) impl->acceptor->close(ignored);
    for (tcp::socket* socket : impl->connections) socket->close(ignored);
  });
}

unsigned short HttpEndpoint::port() const {
  return impl_->port;
}

}  // namespace mailsan::metrics
