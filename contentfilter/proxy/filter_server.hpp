// Accepts Postfix's smtpd_proxy_filter connections (inet: or unix:, through
// common/daemon/listener) and runs one ProxySession
// coroutine per connection, at most max_connections at once (more are told
// 421 and closed, which Postfix answers with a 451 to its client).
//
// SECURITY: anything that reaches the listening socket can talk SMTP to
// it; bind it to loopback, where only Postfix connects.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <memory>
#include <set>
#include <string>

#include "common/daemon/listener.hpp"
#include "common/net/endpoint_address.hpp"
#include "contentfilter/proxy/filter_context.hpp"

namespace mailsan::filter {

class ProxySession;

class FilterServer {
 public:
  FilterServer(boost::asio::any_io_executor ex, FilterContext& context);
  ~FilterServer();
  // Binds; throws std::runtime_error naming the address on failure. A stale
  // unix socket file is replaced.
  void listen(const net::EndpointAddress& address);
  void start();
  // Stops accepting and closes idle connections; a message being scanned or
  // relayed is finished first.
  void stop();
  std::size_t sessions() const { return sessions_.size(); }
  std::size_t busy_sessions() const;

 private:
  boost::asio::awaitable<void> serve(daemon::StreamSocket socket, std::string peer);

  boost::asio::any_io_executor executor_;
  FilterContext& context_;
  daemon::Listeners listeners_;
  std::set<ProxySession*> sessions_;
};

}  // namespace mailsan::filter
