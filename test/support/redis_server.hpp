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
  // extra_args are appended to redis-server's command line (e.g.
  // {"--requirepass", "secret"} or {"--unixsocket", path}); with
  // --requirepass, cli() authenticates with that password.
  explicit RedisServer(bool start_now = true, std::vector<std::string> extra_args = {});
  ~RedisServer();

  void start();
  void stop();
  // SIGKILL: the server dies as on a power loss, without a word to anyone.
  void kill();
  bool running() { return process_.running(); }
  unsigned short port() const { return port_; }
  // The server's private directory (a place for a unix socket or a password file).
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The address in mailsan's config syntax: tcp:127.0.0.1:PORT
  std::string address() const;
  // Runs one command through redis-cli and returns its raw output, trimmed.
  std::string cli(const std::vector<std::string>& args) const;

 private:
  TempDir dir_{"mailsan-redis"};
  unsigned short port_;
  std::vector<std::string> extra_args_;
  std::string password_;
  Process process_;
};

}  // namespace mailsan::test
