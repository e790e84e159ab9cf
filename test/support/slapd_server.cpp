#include "test/support/slapd_server.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace mailsan::test {

const std::string SlapdServer::jclark_ldif =
    "dn: uid=jclark,ou=people,dc=example,dc=test\n"
    "objectClass: inetOrgPerson\n"
    "objectClass: inetLocalMailRecipient\n"
    "uid: jclark\n"
    "cn: Jamie Clark\n"
    "sn: Clark\n"
    "mailLocalAddress: jclark@example.test\n"
    "mailLocalAddress: jamie@example.test\n"
    "mailRoutingAddress: jclark@mail.example.test\n"
    "mailHost: mail.example.test\n";

const std::string SlapdServer::service_account_ldif =
    "dn: cn=mailsan,dc=example,dc=test\n"
    "objectClass: applicationProcess\n"
    "objectClass: simpleSecurityObject\n"
    "cn: mailsan\n"
    "userPassword: mailsan-secret\n";

namespace {

const char* const base_ldif =
    "dn: dc=example,dc=test\n"
    "objectClass: dcObject\n"
    "objectClass: organization\n"
    "dc: example\n"
    "o: Example\n"
    "\n"
    "dn: ou=people,dc=example,dc=test\n"
    "objectClass: organizationalUnit\n"
    "ou: people\n";

}  // namespace

SlapdServer::SlapdServer(const std::string& ldif, bool start_now) : port_(free_tcp_port()) {
  const auto& d = dir_.path();
  std::filesystem::create_directories(d / "db");
  // Run as root without -u: the private directory under $TMPDIR need not be
  // reachable by the openldap user then, and no chown is needed.
  write_file(d / "slapd.conf",
             "include /etc/ldap/schema/core.schema\n"
             "include /etc/ldap/schema/cosine.schema\n"
             "include /etc/ldap/schema/inetorgperson.schema\n"
             "include /etc/ldap/schema/nis.schema\n"
             "include /etc/ldap/schema/misc.schema\n"
             "pidfile " +
                 (d / "slapd.pid").string() +
                 "\n"
                 "argsfile " +
                 (d / "slapd.args").string() +
                 "\n"
                 "modulepath /usr/lib/ldap\n"
                 "moduleload back_mdb\n"
                 "database mdb\n"
                 "suffix \"dc=example,dc=test\"\n"
                 "rootdn \"cn=admin,dc=example,dc=test\"\n"
                 "rootpw " +
                 std::string(root_password) +
                 "\n"
                 "directory " +
                 (d / "db").string() +
                 "\n"
                 "maxsize 16777216\n"
                 "access to * by * read\n");
  write_file(d / "data.ldif", std::string(base_ldif) + "\n" + ldif);
  auto loaded =
      run({"slapadd", "-f", (d / "slapd.conf").string(), "-l", (d / "data.ldif").string()});
  if (loaded.exit_code != 0) throw std::runtime_error("slapadd failed: " + loaded.output);
  if (start_now) start();
}

SlapdServer::~SlapdServer() {
  stop();
}

std::string SlapdServer::uri() const {
  return "ldap://127.0.0.1:" + std::to_string(port_) + "/";
}

void SlapdServer::start() {
  if (process_.running()) return;
  const auto& d = dir_.path();
  process_ = Process({"slapd", "-f", (d / "slapd.conf").string(), "-h", uri(), "-d", "256"},
                     d / "slapd.log");
  if (!wait_for_tcp("127.0.0.1", port_))
    throw std::runtime_error("slapd did not start: " + process_.log());
  // Accepting is not the same as answering; ask for the root DSE until it does.
  for (int i = 0; i < 100; ++i) {
    auto probe = run({"ldapsearch", "-x", "-H", uri(), "-b", "", "-s", "base", "-LLL", "-o",
                      "nettimeout=2", "(objectClass=*)", "1.1"});
    if (probe.exit_code == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("slapd does not answer: " + process_.log());
}

void SlapdServer::stop() {
  // A stopped process would sit on SIGTERM until the grace period ends.
  if (process_.running()) process_.signal(SIGCONT);
  process_.stop();
}

void SlapdServer::pause() {
  process_.signal(SIGSTOP);
  // kill() returns before the stop takes effect; a search sent at once could
  // still be answered. Wait until every thread of slapd shows as stopped.
  const auto task_dir = "/proc/" + std::to_string(process_.pid()) + "/task";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    bool all_stopped = true;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(task_dir, ec)) {
      const std::string stat = read_file(task.path() / "stat");
      // The state follows the ")" that closes the command name.
      const auto paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'T') {
        all_stopped = false;
        break;
      }
    }
    if (!ec && all_stopped) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  throw std::runtime_error("slapd did not stop after SIGSTOP");
}

void SlapdServer::resume() {
  process_.signal(SIGCONT);
}

}  // namespace mailsan::test
