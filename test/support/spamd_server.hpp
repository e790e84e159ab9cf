// A private spamd (Debian's SpamAssassin) for integration tests: its own
// site configuration (the packaged *.pre plugin files, a local.cf written
// here), the packaged rules, local tests only (-L), running as nobody, on a
// free loopback port and a unix socket in its own directory. Per-user
// preferences come from users/<User:>/user_prefs (spamd -x
// --virtual-config-dir). Runs in the foreground, logging to a file, and is
// stopped by the pid started here; its prefork children are waited for.
// Called by tests in test/integration only.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "test/support/process.hpp"

namespace mailsan::test {

struct SpamdServerSettings {
  bool allow_tell = false;  // --allow-tell, for TELL (learning into a private Bayes DB)
  std::string local_cf;     // appended to the site's local.cf
};

class SpamdServer {
 public:
  // The GTUBE test string: any message with it in its body scores 1000.
  static constexpr const char* gtube =
      "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

  // Starts at once unless start_now is false; start() waits until spamd
  // answers PING with PONG (loading the rules takes seconds) and throws
  // with its log when it does not.
  explicit SpamdServer(SpamdServerSettings settings = {}, bool start_now = true);
  ~SpamdServer();
  SpamdServer(const SpamdServer&) = delete;
  SpamdServer& operator=(const SpamdServer&) = delete;

  // start() after stop() listens on the same port and socket path.
  void start();
  // Stops spamd and waits until its children are gone too, so nothing
  // accepts on the port any more.
  void stop();
  // SIGSTOP/SIGCONT to spamd and its children: the kernel still accepts
  // connections on the port but nothing answers, as with a spamd that hangs.
  void pause();
  void resume();
  bool running() { return process_.running(); }
  unsigned short port() const { return port_; }
  // The address in mailsan's config syntax: inet:127.0.0.1:PORT
  std::string address() const;
  std::filesystem::path socket_path() const { return dir_.path() / "spamd.sock"; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string log() const { return process_.log(); }
  // Writes users/<user>/user_prefs, read by spamd for requests with
  // "User: <user>" (score-only settings: required_score, score RULE N, ...).
  void write_user_prefs(const std::string& user, const std::string& prefs) const;
  // Sends raw request bytes over a plain blocking socket and returns all
  // spamd answers until it closes (or timeout).
  std::string raw_request(const std::string& bytes,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

 private:
  std::vector<pid_t> children() const;

  TempDir dir_{"mailsan-spamd"};
  SpamdServerSettings settings_;
  unsigned short port_;
  Process process_;
};

}  // namespace mailsan::test
