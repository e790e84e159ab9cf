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
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

FilterServer::FilterServer(asio::any_io_executor ex, FilterContext& context)
    : executor_(ex), context_(context), listeners_(ex) {}

FilterServer::~FilterServer() = default;

void FilterServer::listen(const net::EndpointAddress& address) {
  listeners_.listen(address);
}

void FilterServer::start() {
  listeners_.start([this](daemon::StreamSocket socket, std::string peer) {
    asio::co_spawn(executor_, serve(std::move(socket), std::move(peer)), asio::detached);
  });
}

void FilterServer::stop() {
  listeners_.stop();
  for (ProxySession* s : sessions_) s->close_if_idle();
}

std::size_t FilterServer::busy_sessions() const {
  std::size_t n = 0;
  for (const ProxySession* s : sessions_) n += s->busy() ? 1 : 0;
  return n;
}

asio::awaitable<void> FilterServer::serve(daemon::StreamSocket socket, std::string peer) {
  const auto settings = context_.settings;
  if (sessions_.size() >= static_cast<std::size_t>(settings->config.max_connections)) {
    context_.metrics->connections_refused.inc();
    std::string busy = "421 4.3.2 " + settings->hostname + " Error: too many connections\r\n";
    co_await asio::async_write(socket, asio::buffer(busy), use_nothrow);
    co_return;
  }
  ProxySession session(std::move(socket), std::move(peer), context_);
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
