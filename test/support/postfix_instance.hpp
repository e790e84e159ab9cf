// A private, real Postfix instance for integration tests, and swaks to talk to
// it. Called by tests in test/integration only.
//
// Each instance lives in its own temp dir: config directory (main.cf,
// master.cf), queue directory, data directory, maillog. smtpd listens on a
// loopback address and a free port; every recipient in a local domain, and
// any mail Postfix generates itself (bounces, postmaster notices), is
// delivered into one Maildir in that dir, so a test reads what arrived and
// also sees backscatter. Nothing is shared between instances but the
// system's postfix user, so several can run at once, in one test (primary
// and backup MX) or in parallel test processes. It is started with
// `postfix -c DIR start` and stopped with `postfix -c DIR stop`; should that
// fail, the processes whose working directory is its private queue
// directory are killed by pid, never by name.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "test/support/process.hpp"

namespace mailsan::test {

// One message for swaks to send. The defaults send from an address outside
// mynetworks, so restrictions behind permit_mynetworks apply.
struct SwaksMessage {
  std::string from = "sender@remote.test";
  std::vector<std::string> to = {"rcpt@example.test"};
  std::string helo = "client.test";
  // Source address; 127.0.0.1 is in the instance's mynetworks.
  std::string local_interface = "127.0.0.100";
  std::vector<std::string> headers;  // "Name: value"; replaces swaks' header of that name
  std::string body;                  // empty: swaks' default body
  std::vector<std::string> extra_args;
  int timeout_seconds = 30;
};

struct SwaksResult {
  int exit_code = -1;      // swaks' exit code: 0 sent, 24 every RCPT refused, ...
  std::string transcript;  // the whole SMTP dialogue as swaks prints it
};

// Runs swaks against host:port (no shell) and returns its transcript.
SwaksResult run_swaks(const std::string& host, unsigned short port, const SwaksMessage& message);

// The shipped wiring of mailsan-policyd into Postfix restrictions.
std::string policy_service(unsigned short port, const std::string& host = "127.0.0.1");

struct PostfixSettings {
  // Names the temp dir and the log tag (postfix-<name>/smtpd), so the logs
  // of two instances in one test tell apart.
  std::string name = "mx1";
  std::string hostname = "mx1.test";  // myhostname: banner, Received:
  // Any 127.x.y.z: smtpd binds it explicitly, so it need not be on lo.
  std::string listen_address = "127.0.0.1";
  unsigned short smtp_port = 0;  // 0: a free port, chosen at construction
  std::vector<std::string> local_domains = {"example.test"};
  std::string mynetworks = "127.0.0.1/32";
  std::string relay_restrictions = "permit_mynetworks, reject_unauth_destination";
  std::string recipient_restrictions;
  std::string data_restrictions;
  // "name=value" overrides for the public smtpd only, as master.cf -o
  // options (e.g. smtpd_proxy_filter=127.0.0.1:10025).
  std::vector<std::string> smtpd_options;
  std::string extra_main_cf;    // appended to main.cf; a later line wins
  std::string extra_master_cf;  // appended to master.cf (after-filter smtpd, ...)
};

struct DeliveredMessage {
  std::filesystem::path path;
  std::string recipient;  // from Delivered-To:
  std::string sender;     // from Return-Path:, without the brackets
  std::string content;    // as delivered, line endings "\n"

  // Every value of the header `name` (any case) in order, unfolded, without
  // the leading space.
  std::vector<std::string> headers(std::string_view name) const;
};

class PostfixInstance {
 public:
  explicit PostfixInstance(PostfixSettings settings = {}, bool start_now = true);
  ~PostfixInstance();
  PostfixInstance(const PostfixInstance&) = delete;
  PostfixInstance& operator=(const PostfixInstance&) = delete;

  // Throws with the maillog when Postfix refuses to start.
  void start();
  // Stops the master and waits until every process of this instance is gone.
  void stop();
  bool running() const;

  const PostfixSettings& settings() const { return settings_; }
  const std::string& address() const { return settings_.listen_address; }
  unsigned short smtp_port() const { return settings_.smtp_port; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path config_dir() const { return dir() / "etc"; }
  std::filesystem::path queue_dir() const { return dir() / "queue"; }
  std::filesystem::path maildir() const { return dir() / "mail" / "inbox"; }
  std::string maillog() const;
  // Maillog and queue listing, for failure messages.
  std::string diagnostics() const;

  // swaks at this instance's smtpd.
  SwaksResult send(const SwaksMessage& message = {}) const;

  // Messages delivered so far, oldest first.
  std::vector<DeliveredMessage> delivered() const;
  // Waits until at least count messages are delivered; throws with
  // diagnostics() after timeout.
  std::vector<DeliveredMessage> wait_for_delivered(
      size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;

  // Queue files in incoming, active, deferred, hold and maildrop.
  size_t queued() const;
  std::string postqueue_listing() const;  // postqueue -p
  bool wait_until_queue_empty(std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;
  // Attempts deferred mail now (postqueue -f).
  void flush() const;

 private:
  void write_config() const;
  pid_t master_pid() const;

  PostfixSettings settings_;
  TempDir dir_;
};

}  // namespace mailsan::test
