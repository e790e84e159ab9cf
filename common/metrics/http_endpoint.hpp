// A small HTTP/1.0-style responder for Prometheus scrapes: GET /metrics returns
// the registry's text; anything else gets 404. No web framework. Bounded:
// request head at most 8 KiB, 5 s to send it, one response per connection.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "common/metrics/registry.hpp"

namespace mailsan::metrics {

class HttpEndpoint {
 public:
  // listen: "HOST:PORT" or "inet:HOST:PORT"; an empty string disables it.
  HttpEndpoint(boost::asio::any_io_executor ex, const Registry& registry);
  ~HttpEndpoint();
  // Binds and starts accepting; throws std::runtime_error with the reason.
  void start(const std::string& listen);
  void stop();
  unsigned short port() const;  // the bound port (useful with port 0)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailsan::metrics
