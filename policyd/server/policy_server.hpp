// The policy server: accepts Postfix's policy connections on inet: and unix:
// sockets (common/daemon/listener) and runs one coroutine per connection that
// only moves bytes between the socket, the codec and the responder (the
// pipeline's policy front end).
//
// Postfix keeps policy connections open between requests and closes them
// itself after smtpd_policy_service_max_idle (300 s); the server does not
// rely on that. A connection that sends nothing for idle_timeout is closed,
// and at max_connections the connection idle the longest (never one with a
// request in flight) is closed to make room for the newcomer: an idle
// connection costs a Postfix smtpd one reconnect, a refused one costs it a
// request (Postfix's policy client retries a request once on a connection
// the server closed).
//
// SECURITY: talks to any client that can reach the listening socket. Requests
// are bounded by the codec; connections by max_connections and idle_timeout;
// a bad request closes its connection only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "common/net/endpoint_address.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/protocol/policy_codec.hpp"
#include "policyd/protocol/policy_responder.hpp"

namespace mailsan::policyd {

class PolicyServer {
 public:
  PolicyServer(boost::asio::any_io_executor ex, PolicyResponder& responder,
               PolicydMetrics& metrics);
  ~PolicyServer();

  // Binds; throws std::runtime_error naming the address on failure. A stale
  // unix socket file is replaced.
  void listen(const net::EndpointAddress& address);
  void start();
  void set_max_connections(std::size_t n);
  // How long a connection may wait for its next request; takes effect at
  // once for every connection.
  void set_idle_timeout(std::chrono::steady_clock::duration timeout);
  // Stops accepting and closes idle connections; connections with a request
  // in flight close after answering it.
  void stop();
  std::size_t connections() const;
  std::size_t requests_in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailsan::policyd
