// A private slapd for integration tests: old-style slapd.conf in its own
// directory, an mdb database under the suffix dc=example,dc=test loaded
// offline with slapadd, loopback only, a free port. Runs in the foreground
// and is stopped by the pid started here.
#pragma once

#include <string>
#include <vector>

#include "test/support/process.hpp"

namespace mailsan::test {

class SlapdServer {
 public:
  static constexpr const char* suffix = "dc=example,dc=test";
  static constexpr const char* people = "ou=people,dc=example,dc=test";
  static constexpr const char* root_dn = "cn=admin,dc=example,dc=test";
  static constexpr const char* root_password = "admin-secret";
  // A service account with a plain-text userPassword, for bind tests.
  static constexpr const char* service_dn = "cn=mailsan,dc=example,dc=test";
  static constexpr const char* service_password = "mailsan-secret";

  // The seed deployment's mail recipient, under ou=people.
  static const std::string jclark_ldif;
  // The service account above.
  static const std::string service_account_ldif;

  // Loads ldif (entries under the suffix; the suffix entry and ou=people are
  // added here) and starts slapd unless start_now is false.
  explicit SlapdServer(const std::string& ldif = jclark_ldif, bool start_now = true);
  ~SlapdServer();
  SlapdServer(const SlapdServer&) = delete;
  SlapdServer& operator=(const SlapdServer&) = delete;

  // start() again after stop() listens on the same port with the same data,
  // so clients can reconnect to the "same" server.
  void start();
  void stop();
  // SIGSTOP/SIGCONT: connections are still accepted by the kernel but
  // nothing answers, as with a server that hangs.
  void pause();
  void resume();
  bool running() { return process_.running(); }
  unsigned short port() const { return port_; }
  std::string uri() const;  // ldap://127.0.0.1:PORT/
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string log() const { return process_.log(); }

 private:
  TempDir dir_{"mailsan-slapd"};
  unsigned short port_;
  Process process_;
};

}  // namespace mailsan::test
