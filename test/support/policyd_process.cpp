#include "test/support/policyd_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <stdexcept>

namespace mailsan::test {

PolicydProcess::PolicydProcess(const PolicydSettings& s)
    : port_(free_tcp_port()), metrics_port_(free_tcp_port()) {
  std::ostringstream conf;
  conf << "listen = "
       << (s.unix_socket.empty() ? "inet:127.0.0.1:" + std::to_string(port_)
                                 : "unix:" + s.unix_socket)
       << "\n"
       << "metrics_listen = 127.0.0.1:" << metrics_port_ << "\n"
       << "redis = " << s.redis << "\n"
       << "hostname = " << s.hostname << "\n"
       << "log_level = debug\n"
       << "dns_servers = " << s.dns_servers << "\n"
       << s.extra_top
       << "\n"
       // [greylist] comes last: tests append its keys to extra_sections.
       << "[spf]\n"
       << "enable = " << (s.spf ? "yes" : "no") << "\n"
       << "[callout]\n"
       << "enable = " << (s.callout ? "yes" : "no") << "\n"
       << "[greylist]\n"
       << "delay = " << s.greylist_delay << "\n"
       << s.extra_sections << "\n";
  write_file(config_path(), conf.str());
  process_ =
      Process({MAILSAN_POLICYD_BIN, "-c", config_path().string()}, dir_.path() / "policyd.log");
  // The metrics endpoint is bound last, after the policy socket.
  if (!wait_for_tcp("127.0.0.1", metrics_port_)) {
    throw std::runtime_error("mailsan-policyd did not start: " + process_.log());
  }
}

PolicydProcess::~PolicydProcess() {
  process_.stop();
}

std::string PolicydProcess::metrics() const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(metrics_port_);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    (void)!::write(fd, req.data(), req.size());
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

double PolicydProcess::metric(const std::string& sample) const {
  std::istringstream in(metrics());
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > sample.size() && line.compare(0, sample.size(), sample) == 0 &&
        line[sample.size()] == ' ')
      return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

PolicyClient::PolicyClient(unsigned short port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("connect to policyd failed: " + std::string(strerror(errno)));
  }
}

PolicyClient::PolicyClient(const std::filesystem::path& unix_socket) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, unix_socket.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("connect to policyd's unix socket failed: " +
                             std::string(strerror(errno)));
  }
}

PolicyClient::~PolicyClient() {
  if (fd_ >= 0) ::close(fd_);
}

void PolicyClient::send_raw(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send to policyd failed");
    off += static_cast<size_t>(n);
  }
}

std::string PolicyClient::ask(const std::map<std::string, std::string>& attributes,
                              std::chrono::milliseconds timeout) {
  send_raw(encode_request(attributes));
  return read_reply(timeout);
}

std::string encode_request(const std::map<std::string, std::string>& attributes) {
  std::string req;
  if (!attributes.count("request")) req += "request=smtpd_access_policy\n";
  for (const auto& [k, v] : attributes) req += k + "=" + v + "\n";
  req += "\n";
  return req;
}

std::string PolicyClient::read_reply(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto end = buffer_.find("\n\n");
    if (end != std::string::npos) {
      std::string reply = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      if (reply.rfind("action=", 0) != 0) throw std::runtime_error("bad reply: " + reply);
      return reply.substr(7);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("no policy reply in time");
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("policyd closed the connection");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

bool PolicyClient::closed_by_server(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0) return false;
  }
}

std::map<std::string, std::string> rcpt_request(const std::string& client_ip,
                                                const std::string& sender,
                                                const std::string& recipient,
                                                const std::string& instance) {
  return {{"request", "smtpd_access_policy"},
          {"protocol_state", "RCPT"},
          {"protocol_name", "ESMTP"},
          {"client_address", client_ip},
          {"client_name", "unknown"},
          {"reverse_client_name", "unknown"},
          {"helo_name", "client.test"},
          {"sender", sender},
          {"recipient", recipient},
          {"recipient_count", "0"},
          {"queue_id", ""},
          {"instance", instance},
          {"size", "0"}};
}

}  // namespace mailsan::test
