#include "test/support/spamd_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mailsan::test {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSpamdUser = "nobody";

void give_to_spamd_user(const fs::path& p) {
  if (const passwd* pw = ::getpwnam(kSpamdUser)) {
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("chown " + p.string() + " failed");
  }
}

// The parent pid (field 4 of /proc/PID/stat) and the state (field 3).
bool read_stat(pid_t pid, pid_t& ppid, char& state) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 1));
  rest >> state >> ppid;
  return static_cast<bool>(rest);
}

// Gone, or a zombie whose sockets are closed already.
bool gone(pid_t pid) {
  pid_t ppid = 0;
  char state = 0;
  return !read_stat(pid, ppid, state) || state == 'Z' || state == 'X';
}

}  // namespace

SpamdServer::SpamdServer(SpamdServerSettings settings, bool start_now)
    : settings_(std::move(settings)), port_(free_tcp_port()) {
  const fs::path site = dir() / "site";
  fs::create_directories(site);
  // Without the plugin-loading *.pre files (Check above all) nothing
  // scores; sa-compile.pre would want compiled rules that are not there.
  for (const auto& e : fs::directory_iterator("/etc/spamassassin")) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".pre" && name != "sa-compile.pre")
      fs::copy_file(e.path(), site / name);
  }
  const fs::path bayes = dir() / "bayes";
  fs::create_directories(bayes);
  give_to_spamd_user(bayes);
  fs::create_directories(dir() / "users");
  write_file(site / "local.cf",
             "required_score 5\n"
             "bayes_auto_learn 0\n"
             "bayes_path " +
                 (bayes / "bayes").string() +
                 "\n"
                 "bayes_file_mode 0700\n" +
                 settings_.local_cf + "\n");
  if (start_now) start();
}

SpamdServer::~SpamdServer() {
  stop();
}

std::string SpamdServer::address() const {
  return "inet:127.0.0.1:" + std::to_string(port_);
}

void SpamdServer::write_user_prefs(const std::string& user, const std::string& prefs) const {
  const fs::path d = dir() / "users" / user;
  fs::create_directories(d);
  give_to_spamd_user(d);
  write_file(d / "user_prefs", prefs);
}

void SpamdServer::start() {
  if (process_.running()) return;
  std::error_code ec;
  fs::remove(socket_path(), ec);
  std::vector<std::string> argv{"/usr/sbin/spamd",
                                "--listen",
                                "127.0.0.1:" + std::to_string(port_),
                                "--listen",
                                socket_path().string(),
                                "--local",
                                "--username",
                                kSpamdUser,
                                "--nouser-config",
                                "--virtual-config-dir=" + (dir() / "users" / "%u").string(),
                                "--siteconfigpath",
                                (dir() / "site").string(),
                                "--syslog",
                                "stderr",
                                "--max-children",
                                "3",
                                "--min-children",
                                "1"};
  if (settings_.allow_tell) argv.push_back("--allow-tell");
  process_ = Process(std::move(argv), dir() / "spamd.log");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < until) {
    if (!process_.running()) throw std::runtime_error("spamd exited:\n" + log());
    // Accepting is not answering: spamd listens before its children have
    // loaded the rules.
    if (raw_request("PING SPAMC/1.5\r\n\r\n", std::chrono::seconds(5)).find("PONG") !=
        std::string::npos)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("spamd did not answer PING:\n" + log());
}

std::vector<pid_t> SpamdServer::children() const {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    pid_t ppid = 0;
    char state = 0;
    if (read_stat(pid, ppid, state) && ppid == process_.pid()) out.push_back(pid);
  }
  return out;
}

void SpamdServer::stop() {
  if (!process_.running()) return;
  // spamd's children inherit its listening sockets; once the parent is
  // gone they are no longer ours to find by parent pid, so note them now.
  const std::vector<pid_t> kids = children();
  resume();  // a paused spamd cannot act on SIGTERM
  process_.stop();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (pid_t kid : kids) {
    while (!gone(kid) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!gone(kid)) ::kill(kid, SIGKILL);
  }
}

void SpamdServer::pause() {
  process_.signal(SIGSTOP);
  for (pid_t kid : children()) ::kill(kid, SIGSTOP);
}

void SpamdServer::resume() {
  for (pid_t kid : children()) ::kill(kid, SIGCONT);
  process_.signal(SIGCONT);
}

std::string SpamdServer::raw_request(const std::string& bytes,
                                     std::chrono::milliseconds timeout) const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    const auto until = std::chrono::steady_clock::now() + timeout;
    char buf[16384];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      reply.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return reply;
}

}  // namespace mailsan::test
