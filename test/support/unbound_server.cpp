// Surprises met while setting unbound up for tests, kept here:
// - Without module-config: "iterator" unbound starts the validator, which
//   wants a root trust anchor (unbound-anchor, network); validation is of no
//   use for local data anyway.
// - username: "" keeps it from dropping to the "unbound" user, which could
//   not write into our private directory; chroot: "" likewise.
// - logfile: "" with use-syslog: no logs to stderr, which Process collects;
//   log-queries puts one line per query there ("127.0.0.1 a.example.test. A
//   IN"), for UDP and TCP alike, which is how tests count queries.
// - The port must be free for UDP and TCP both: unbound listens on both, and
//   answers truncated UDP replies' retries over TCP.
// - It is UDP: a TCP connect proves little, so readiness is a real query.
#include "test/support/unbound_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace mailsan::test {

namespace {

bool can_bind(int type, unsigned short port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

unsigned short free_udp_and_tcp_port() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const unsigned short port = free_tcp_port();
    if (can_bind(SOCK_DGRAM, port)) return port;
  }
  throw std::runtime_error("no free UDP+TCP port on 127.0.0.1");
}

// Sends one query for ". SOA" and waits up to timeout for any reply with its
// id (REFUSED is a reply: the root is refused on purpose).
bool answers_udp(unsigned short port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  // Header (id 0x6d73, RD, one question), root name, type SOA, class IN.
  const unsigned char query[] = {0x6d, 0x73, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x01};
  bool answered = false;
  if (::sendto(fd, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ==
      static_cast<ssize_t>(sizeof query)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      unsigned char reply[512];
      const ssize_t n = ::recv(fd, reply, sizeof reply, 0);
      answered = n >= 12 && reply[0] == query[0] && reply[1] == query[1];
    }
  }
  ::close(fd);
  return answered;
}

}  // namespace

UnboundServer::UnboundServer(std::vector<std::string> zone_lines, bool start_now)
    : port_(free_udp_and_tcp_port()), zone_lines_(std::move(zone_lines)) {
  if (start_now) start();
}

UnboundServer::~UnboundServer() {
  stop();
}

std::string UnboundServer::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

void UnboundServer::start() {
  if (process_.running()) return;
  const std::string dir = dir_.path().string();
  std::string conf = "server:\n";
  conf += "  interface: 127.0.0.1@" + std::to_string(port_) + "\n";
  conf += "  port: " + std::to_string(port_) + "\n";
  conf += "  do-daemonize: no\n";
  conf += "  use-syslog: no\n";
  conf += "  logfile: \"\"\n";
  conf += "  chroot: \"\"\n";
  conf += "  username: \"\"\n";
  conf += "  directory: \"" + dir + "\"\n";
  conf += "  pidfile: \"" + dir + "/unbound.pid\"\n";
  conf += "  do-ip6: no\n";
  conf += "  access-control: 127.0.0.0/8 allow\n";
  conf += "  module-config: \"iterator\"\n";
  conf += "  log-queries: yes\n";
  conf += "  local-zone: \".\" refuse\n";
  // "servfail-zone: NAME" lines: unbound answers SERVFAIL for NAME, as a
  // recursive resolver does when the zone's servers are dead. The zone is
  // forwarded to a loopback port where nothing listens; with one retry and
  // a short RTT cap that takes about 0.2 s.
  std::vector<std::string> servfail_zones;
  const std::string servfail_prefix = "servfail-zone:";
  for (const std::string& line : zone_lines_) {
    if (line.rfind(servfail_prefix, 0) == 0) {
      std::string name = line.substr(servfail_prefix.size());
      name.erase(0, name.find_first_not_of(' '));
      servfail_zones.push_back(name);
      conf += "  local-zone: \"" + name + "\" transparent\n";
    } else {
      conf += "  " + line + "\n";
    }
  }
  if (!servfail_zones.empty()) {
    conf += "  do-not-query-localhost: no\n";
    conf += "  infra-cache-max-rtt: 100\n";
    conf += "  outbound-msg-retry: 1\n";
    for (const auto& name : servfail_zones)
      conf += "forward-zone:\n  name: \"" + name + "\"\n  forward-addr: 127.0.0.1@9\n";
  }
  conf += "remote-control:\n  control-enable: no\n";
  const auto conf_file = dir_.path() / "unbound.conf";
  write_file(conf_file, conf);

  process_ = Process({"unbound", "-d", "-c", conf_file.string()}, dir_.path() / "unbound.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_.running())
      throw std::runtime_error("unbound exited at start:\n" + process_.log());
    if (answers_udp(port_, std::chrono::milliseconds(100))) return;
  }
  throw std::runtime_error("unbound did not answer within 10 s:\n" + process_.log());
}

void UnboundServer::stop() {
  process_.stop();
}

std::size_t UnboundServer::queries_for(std::string_view name, std::string_view type) const {
  const std::string needle = " " + std::string(name) + ". " + std::string(type) + " IN";
  const std::string text = log();
  std::size_t count = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++count;
  return count;
}

}  // namespace mailsan::test
