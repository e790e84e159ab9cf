// Accepts Postfix's smtpd_proxy_filter connections and runs one ProxySession
// coroutine per connection, at most max_connections at once (more are told
// 421 and closed, which Postfix answers with a 451 to its client).
//
// SECURITY: anything that reaches the listening socket can talk SMTP to
// it; bind it to loopback, where only Postfix connects.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <memory>
#include <set>

#include "common/net/endpoint_address.hpp"
#include "contentfilter/proxy/filter_context.hpp"

namespace mailsan::filter {

class ProxySession;

class FilterServer {
 public:
  FilterServer(boost::asio::any_io_executor ex, FilterContext& context);
  ~FilterServer();
  // Binds; throws std::runtime_error naming the address on failure.
  void listen(const net::EndpointAddress& address);
  void start();
  // Stops accepting and closes idle connections; a message being scanned or
  // relayed is finished first.
  void stop();
  std::size_t sessions() const { return sessions_.size(); }
  std::size_t busy_sessions() const;

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor executor_;
  FilterContext& context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<ProxySession*> sessions_;
  bool stopping_ = false;
};

}  // namespace mailsan::filter
