#include "common/daemon/process_setup.hpp"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/log/log.hpp"

namespace mailsan::daemon {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

void raise_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void ignore_sigpipe() {
  ::signal(SIGPIPE, SIG_IGN);
}

void drop_privileges(const std::string& user) {
  if (user.empty()) return;
  errno = 0;
  passwd* pw = ::getpwnam(user.c_str());
  if (!pw) throw std::runtime_error("user '" + user + "' not found");
  if (::getuid() == pw->pw_uid) return;
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 ||
      ::setuid(pw->pw_uid) != 0)
    throw std::runtime_error("cannot switch to user '" + user + "': " + std::strerror(errno));
}

std::optional<net::EndpointAddress> start_process(const config::CommonConfig& config,
                                                  const char* program, const std::string& listen) {
  config::init_logging(config, program);
  raise_file_limit();
  ignore_sigpipe();
  std::string error;
  auto address = net::parse_endpoint(listen, &error);
  if (!address) log::error("startup_failed").kv("option", "listen").kv("error", error);
  return address;
}

}  // namespace mailsan::daemon
