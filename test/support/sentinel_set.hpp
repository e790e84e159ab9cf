// A Redis Sentinel set-up for integration tests: a master, a replica and
// three sentinels (quorum 2), each its own redis-server process on a free
// loopback port in a private directory, stopped by pid. The master and the
// replica ask for a password, and so do the sentinels (another one), so
// that both AUTH paths are used. Short down-after-milliseconds and
// failover-timeout make a failover take seconds.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "test/support/process.hpp"
#include "test/support/redis_server.hpp"

namespace mailsan::test {

class SentinelProcess {
 public:
  SentinelProcess(const std::string& master_name, unsigned short master_port,
                  const std::string& redis_password, const std::string& sentinel_password);
  ~SentinelProcess();
  unsigned short port() const { return port_; }
  void kill() { process_.stop(9); }
  // One command through redis-cli to this sentinel; raw output, trimmed.
  std::string cli(const std::vector<std::string>& args) const;

 private:
  TempDir dir_{"mailsan-sentinel"};
  unsigned short port_;
  std::string password_;
  Process process_;
};

class SentinelSet {
 public:
  static constexpr const char* kMasterName = "mailsan-test";
  static constexpr int kDownAfterMs = 1000;

  // Starts everything and waits until every sentinel knows the replica and
  // the two other sentinels (so that a failover can be agreed on).
  SentinelSet();

  RedisServer& master() { return *master_; }
  RedisServer& replica() { return *replica_; }
  SentinelProcess& sentinel(std::size_t i) { return *sentinels_.at(i); }
  // sentinel:NAME@127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
  std::string address() const;
  // Files holding the passwords, for redis_password_file and
  // redis_sentinel_password_file.
  std::filesystem::path redis_password_file() const { return dir_.path() / "redis.pass"; }
  std::filesystem::path sentinel_password_file() const { return dir_.path() / "sentinel.pass"; }
  // The master's port as sentinel i names it now ("" when it cannot say).
  std::string master_port_from(std::size_t i) const;

 private:
  TempDir dir_{"mailsan-sentinel-set"};
  std::unique_ptr<RedisServer> master_;
  std::unique_ptr<RedisServer> replica_;
  std::vector<std::unique_ptr<SentinelProcess>> sentinels_;
};

}  // namespace mailsan::test
