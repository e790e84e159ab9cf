// A private redis-server for integration tests: own directory, loopback, a free
// port, no persistence. Stopped by pid on destruction.
#pragma once

#include <string>
#include <vector>

#include "test/support/process.hpp"

namespace mailsan::test {

class RedisServer {
 public:
  // Starts at once unless start_now is false. The port stays the same across
  // stop()/start() so that clients can reconnect to the "same" server.
  explicit RedisServer(bool start_now = true);
  ~RedisServer();

  void start();
  void stop();
  bool running() { return process_.running(); }
  unsigned short port() const { return port_; }
  // The address in mailsan's config syntax: tcp:127.0.0.1:PORT
  std::string address() const;
  // Runs one command through redis-cli and returns its raw output, trimmed.
  std::string cli(const std::vector<std::string>& args) const;

 private:
  TempDir dir_{"mailsan-redis"};
  unsigned short port_;
  Process process_;
};

}  // namespace mailsan::test
