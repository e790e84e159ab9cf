#include "contentfilter/proxy/filter_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

#include "common/log/log.hpp"
#include "contentfilter/proxy/proxy_session.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

FilterServer::FilterServer(asio::any_io_executor ex, FilterContext& context)
    : executor_(ex), context_(context), acceptor_(ex) {}

FilterServer::~FilterServer() = default;

void FilterServer::listen(const net::EndpointAddress& address) {
  if (address.kind != net::EndpointAddress::Kind::inet)
    throw std::runtime_error("listen " + address.to_string() + ": only inet: is supported");
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address.host, ec);
  if (ec) throw std::runtime_error("listen " + address.to_string() + ": not a numeric address");
  tcp::endpoint ep(ip, address.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("listen " + address.to_string() + ": " + ec.message());
}

void FilterServer::start() {
  asio::co_spawn(executor_, accept_loop(), asio::detached);
}

void FilterServer::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (ProxySession* s : sessions_) s->close_if_idle();
}

std::size_t FilterServer::busy_sessions() const {
  std::size_t n = 0;
  for (const ProxySession* s : sessions_) n += s->busy() ? 1 : 0;
  return n;
}

asio::awaitable<void> FilterServer::accept_loop() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      // EMFILE and the like: keep serving what is open.
      log::warning("accept_failed").kv("error", ec.message());
      continue;
    }
    asio::co_spawn(executor_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> FilterServer::serve(tcp::socket socket) {
  const auto settings = context_.settings;
  if (sessions_.size() >= static_cast<std::size_t>(settings->config.max_connections)) {
    context_.metrics->connections_refused.inc();
    std::string busy = "421 4.3.2 " + settings->hostname + " Error: too many connections\r\n";
    co_await asio::async_write(socket, asio::buffer(busy), use_nothrow);
    co_return;
  }
  ProxySession session(std::move(socket), context_);
  sessions_.insert(&session);
  try {
    co_await session.run();
  } catch (const std::exception& e) {
    // A bug costs this connection (Postfix then answers 451), never the
    // daemon.
    log::error("session_failed").kv("error", e.what());
  }
  sessions_.erase(&session);
}

}  // namespace mailsan::filter
