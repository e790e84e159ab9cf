// A private unbound for integration tests: authoritative for the zones a test
// gives it, on a free loopback port, and never recursing (the root is
// refused, so nothing ever leaves the machine). Started in the foreground and
// stopped by pid on destruction.
//
// Zone data are unbound.conf lines, e.g.
//   local-zone: "example.test." static
//   local-data: "a.example.test. 300 IN A 192.0.2.1"
//   local-data: 'txt.example.test. TXT "one" "two"'
//   local-zone: "dropped.test." deny      (queries are dropped: timeouts)
//   local-zone: "refused.test." refuse    (REFUSED at once)
//   servfail-zone: servfail.test.         (SERVFAIL after about 0.2 s)
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "test/support/process.hpp"

namespace mailsan::test {

class UnboundServer {
 public:
  explicit UnboundServer(std::vector<std::string> zone_lines, bool start_now = true);
  ~UnboundServer();
  UnboundServer(const UnboundServer&) = delete;
  UnboundServer& operator=(const UnboundServer&) = delete;

  // Returns once the server answers a UDP query; throws when it does not.
  void start();
  void stop();
  bool running() { return process_.running(); }
  unsigned short port() const { return port_; }
  // As the resolver's options take it: "127.0.0.1:PORT".
  std::string address() const;
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string log() const { return process_.log(); }
  // Queries that reached the server for name (without the trailing dot) and
  // type ("A", "TXT", ...), over UDP and TCP alike, counted in its log.
  std::size_t queries_for(std::string_view name, std::string_view type) const;

 private:
  TempDir dir_{"mailsan-unbound"};
  unsigned short port_;
  std::vector<std::string> zone_lines_;
  Process process_;
};

}  // namespace mailsan::test
