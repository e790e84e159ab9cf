// mailsan-policyd started by a test: a private config file in a temp dir, a
// free port on 127.0.0.1, stopped by pid. And a small blocking policy client.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "test/support/process.hpp"

namespace mailsan::test {

struct PolicydSettings {
  std::string redis;           // tcp:127.0.0.1:PORT
  std::string extra_top;       // extra "key = value" lines for the top section
  std::string extra_sections;  // extra "[section]" blocks appended verbatim
  int greylist_delay = 300;
  std::string hostname = "mx1.test";
  std::string unix_socket;  // listen on this unix socket instead of TCP
  // SPF is on by default in the daemon, but would ask the system's resolver
  // about every test sender; tests that mean SPF turn it on and give
  // dns_servers in extra_top.
  bool spf = false;
  // Callouts likewise: on, every test sender's domain would be looked up
  // and called. Tests of callouts turn them on with a test DNS server.
  bool callout = false;
  // Tests never ask the machine's resolver: without a test DNS server of
  // their own, queries go to a loopback port where nothing answers.
  std::string dns_servers = "127.0.0.1:9";
};

class PolicydProcess {
 public:
  explicit PolicydProcess(const PolicydSettings& settings);
  ~PolicydProcess();

  unsigned short port() const { return port_; }
  unsigned short metrics_port() const { return metrics_port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path config_path() const { return dir_.path() / "policyd.conf"; }
  Process& process() { return process_; }
  std::string log() const { return process_.log(); }
  // GET /metrics from its metrics endpoint.
  std::string metrics() const;
  // Value of one sample line, e.g. metric("mailsan_policy_verdicts_total{verdict=\"defer\"}"); -1
  // if absent.
  double metric(const std::string& sample) const;

 private:
  TempDir dir_{"mailsan-policyd"};
  unsigned short port_;
  unsigned short metrics_port_;
  Process process_;
};

// A blocking client of the policy protocol over TCP on 127.0.0.1.
class PolicyClient {
 public:
  explicit PolicyClient(unsigned short port);
  explicit PolicyClient(const std::filesystem::path& unix_socket);
  ~PolicyClient();
  PolicyClient(const PolicyClient&) = delete;
  PolicyClient& operator=(const PolicyClient&) = delete;

  // Sends one request (attributes plus request=smtpd_access_policy) and returns
  // the action value (without "action="); throws on a closed connection or
  // after timeout.
  std::string ask(const std::map<std::string, std::string>& attributes,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads the next reply's action (for requests sent with send_raw).
  std::string read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends raw bytes.
  void send_raw(const std::string& bytes);
  // True when the server closed the connection within timeout.
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  int fd_ = -1;
  std::string buffer_;
};

// The request in wire form.
std::string encode_request(const std::map<std::string, std::string>& attributes);
// A typical RCPT-stage request for a triplet.
std::map<std::string, std::string> rcpt_request(const std::string& client_ip,
                                                const std::string& sender,
                                                const std::string& recipient,
                                                const std::string& instance = "1.2.3");

}  // namespace mailsan::test
