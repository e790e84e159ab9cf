// A small HTTP/1.0-style responder for Prometheus scrapes: GET /metrics returns
// the registry's text; anything else gets 404. No web framework. Bounded:
// request head at most 8 KiB, 5 s to send it, one response per connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/metrics/registry.hpp"

namespace mailsan::metrics {

// The bounds of one endpoint; the defaults are what daemons use, tests
// shorten the timeout.
struct HttpLimits {
  std::size_t max_head = 8192;              // request line and headers
  std::chrono::milliseconds timeout{5000};  // to send the head; again to read the reply
  std::size_t max_connections = 64;         // open at once; more are closed at accept
};

class HttpEndpoint {
 public:
  // listen: "HOST:PORT" or "inet:HOST:PORT"; an empty string disables it.
  HttpEndpoint(boost::asio::any_io_executor ex, const Registry& registry);
  ~HttpEndpoint();
  // Takes effect for start(); call it before.
  void set_limits(const HttpLimits& limits);
  // Binds and starts accepting; throws std::runtime_error with the reason.
  // Accepting and every connection run on a strand of the executor, so the
  // io_context may be run by several threads. The registry must outlive the
  // io_context's pending work, not only this object.
  void start(const std::string& listen);
  // Closes the listener and open connections (on the strand: returns at once).
  void stop();
  unsigned short port() const;  // the bound port (useful with port 0)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailsan::metrics
