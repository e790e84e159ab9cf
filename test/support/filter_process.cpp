#include "test/support/filter_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mailsan::test {

FilterProcess::FilterProcess(const FilterSettings& s)
    : port_(free_tcp_port()), metrics_port_(free_tcp_port()) {
  std::ostringstream conf;
  conf << "listen = "
       << (s.unix_socket.empty() ? "inet:127.0.0.1:" + std::to_string(port_)
                                 : "unix:" + s.unix_socket)
       << "\n"
       << "next_hop = inet:127.0.0.1:" << s.next_hop_port << "\n"
       << "metrics_listen = 127.0.0.1:" << metrics_port_ << "\n"
       << "redis = " << s.redis << "\n"
       << "hostname = " << s.hostname << "\n"
       << "log_level = debug\n"
       << "spool_dir = " << spool_dir().string() << "\n"
       << "quarantine_dir = " << quarantine_dir().string() << "\n"
       << s.extra_top << "\n"
       << "[marker]\n"
       << "enable = " << (s.marker ? "yes" : "no") << "\n"
       << "[clamav]\n"
       << "enable = " << (s.clamav ? "yes" : "no") << "\n"
       << "[spamd]\n"
       << "enable = " << (s.spamd ? "yes" : "no") << "\n"
       << "[bulk]\n"
       << "enable = " << (s.bulk ? "yes" : "no") << "\n"
       << s.extra_sections << "\n";
  write_file(config_path(), conf.str());
  process_ = Process({MAILSAN_FILTER_BIN, "-c", config_path().string()}, dir_.path() / "filter.log",
                     s.max_open_files);
  if (!wait_for_tcp("127.0.0.1", metrics_port_))
    throw std::runtime_error("mailsan-filter did not start: " + process_.log());
}

FilterProcess::~FilterProcess() {
  process_.stop();
}

long FilterProcess::peak_rss_kib() const {
  std::ifstream status("/proc/" + std::to_string(process_.pid()) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::vector<std::string> FilterProcess::quarantined() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(quarantine_dir(), ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name.find(".tmp") == std::string::npos) ids.push_back(name);
  }
  return ids;
}

ShippedWiring shipped_wiring(unsigned short filter_port, unsigned short after_port) {
  std::string text = read_file(std::string(MAILSAN_SOURCE_DIR) + "/etc/postfix/master.cf.filter");
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
      s.replace(at, from.size(), to);
    return s;
  };
  text = replace(text, "127.0.0.1:10025", "127.0.0.1:" + std::to_string(filter_port));
  text = replace(text, "127.0.0.1:10026", "127.0.0.1:" + std::to_string(after_port));
  ShippedWiring w;
  std::istringstream lines(text);
  std::string line;
  int service = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ') ++service;
    if (service == 1 && line.find("-o ") != std::string::npos)
      w.smtpd_options.push_back(line.substr(line.find("-o ") + 3));
    if (service == 2) w.after_filter_service += line + "\n";
  }
  return w;
}

SmtpTestClient::SmtpTestClient(const std::string& host, unsigned short port,
                               const std::string& local_address) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, local_address.c_str(), &local.sin_addr);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    throw std::runtime_error("smtp test client: cannot bind " + local_address);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("smtp test client: cannot connect to " + host + ":" +
                             std::to_string(port));
}

SmtpTestClient::SmtpTestClient(const std::filesystem::path& unix_socket) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, unix_socket.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    throw std::runtime_error("smtp test client: cannot connect to " + unix_socket.string());
  }
}

SmtpTestClient::~SmtpTestClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string SmtpTestClient::read_reply(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string reply;
  for (;;) {
    auto eol = buffer_.find("\r\n");
    if (eol != std::string::npos) {
      std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 2);
      reply += (reply.empty() ? "" : "\r\n") + line;
      if (line.size() < 4 || line[3] != '-') return reply;
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("smtp test client: reply timeout: " + reply);
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("smtp test client: connection closed: " + reply);
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string SmtpTestClient::command(const std::string& line) {
  send(line + "\r\n");
  return read_reply();
}

void SmtpTestClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    // A server that hung up must fail the write, not kill the test.
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("smtp test client: write failed");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool SmtpTestClient::closed_by_server(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return true;
  }
  return false;
}

}  // namespace mailsan::test
