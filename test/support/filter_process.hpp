// A real mailsan-filter for integration tests, on a free loopback port with
// a private directory (config, spool, quarantine), stopped by pid; and a
// plain blocking SMTP client for what swaks cannot send (a 50 MB message,
// SMTPUTF8, bare line feeds). Called by tests in test/integration only.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "test/support/process.hpp"

namespace mailsan::test {

struct FilterSettings {
  std::string redis;  // tcp:127.0.0.1:PORT
  unsigned short next_hop_port = 0;
  std::string hostname = "mx1.test";
  bool marker = true;  // the test scanner, so tests choose verdicts
  // The real scanners are on by default in the daemon; a test that means
  // them turns them on and gives their settings in extra_sections (a
  // section may be named twice, a key not).
  bool clamav = false;
  bool spamd = false;
  bool bulk = false;
  std::string unix_socket;           // listen on this unix socket instead of TCP
  unsigned long max_open_files = 0;  // the daemon's RLIMIT_NOFILE (0: the test's)
  std::string extra_top;             // extra "key = value" lines for the top section
  std::string extra_sections;        // "[section]" blocks appended verbatim
};

class FilterProcess {
 public:
  explicit FilterProcess(const FilterSettings& settings);
  ~FilterProcess();

  unsigned short port() const { return port_; }
  unsigned short metrics_port() const { return metrics_port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path config_path() const { return dir_.path() / "filter.conf"; }
  std::filesystem::path quarantine_dir() const { return dir_.path() / "quarantine"; }
  std::filesystem::path spool_dir() const { return dir_.path() / "spool"; }
  Process& process() { return process_; }
  std::string log() const { return process_.log(); }
  // Peak resident memory (VmHWM) of the running daemon, in KiB.
  long peak_rss_kib() const;
  // Quarantine entries on disk (directories, not *.tmp).
  std::vector<std::string> quarantined() const;

 private:
  TempDir dir_{"mailsan-filter"};
  unsigned short port_;
  unsigned short metrics_port_;
  Process process_;
};

// The shipped etc/postfix/master.cf.filter with a test's ports: the port-25
// smtpd's -o options (for PostfixSettings::smtpd_options) and the
// after-filter service as written (for extra_master_cf), so the tests run
// the snippet users copy.
struct ShippedWiring {
  std::vector<std::string> smtpd_options;
  std::string after_filter_service;
};
ShippedWiring shipped_wiring(unsigned short filter_port, unsigned short after_port);

// A blocking SMTP client for tests: one command at a time, replies read
// whole. Throws on a connection failure or a reply timeout.
class SmtpTestClient {
 public:
  SmtpTestClient(const std::string& host, unsigned short port,
                 const std::string& local_address = "127.0.0.1");
  explicit SmtpTestClient(const std::filesystem::path& unix_socket);
  ~SmtpTestClient();
  SmtpTestClient(const SmtpTestClient&) = delete;
  SmtpTestClient& operator=(const SmtpTestClient&) = delete;

  // The next reply, all lines, "\r\n" between them.
  std::string read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Sends line + CRLF and returns the reply.
  std::string command(const std::string& line);
  // Sends raw bytes.
  void send(std::string_view bytes);
  // True when the server closed the connection within timeout.
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace mailsan::test
