#include "common/daemon/private_directory.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace mailsan::daemon {
namespace {

std::string user_name(uid_t uid) {
  passwd* pw = ::getpwuid(uid);
  return pw ? pw->pw_name : "uid " + std::to_string(uid);
}

[[noreturn]] void fail(const std::string& option, const std::string& path,
                       const std::string& reason) {
  throw std::runtime_error(option + " = " + path + ": " + reason);
}

}  // namespace

void prepare_private_directory(const std::string& option, const std::string& path,
                               const std::string& user) {
  if (path.empty()) fail(option, path, "empty path");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) fail(option, path, "not a directory");
    return;
  }
  if (errno != ENOENT) fail(option, path, std::strerror(errno));
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) fail(option, path, "cannot create " + parent.string() + ": " + ec.message());
  // 0700: it holds mail. mkdir's mode is cut by the umask, never widened.
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    fail(option, path, std::string("cannot create: ") + std::strerror(errno));
  if (user.empty() || ::geteuid() != 0) return;
  passwd* pw = ::getpwnam(user.c_str());
  if (!pw) fail(option, path, "user '" + user + "' not found");
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0)
    fail(option, path, "cannot give it to user '" + user + "': " + std::strerror(errno));
}

void check_private_directory(const std::string& option, const std::string& path) {
  std::string probe = path + "/.mailsan-write-test.XXXXXX";
  int fd = ::mkstemp(probe.data());
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
    return;
  }
  int error = errno;
  std::string reason = "not writable by user '" + user_name(::geteuid()) + "'";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    reason += " (owner " + user_name(st.st_uid) + ", mode " + mode + ")";
  }
  fail(option, path, reason + ": " + std::strerror(error));
}

}  // namespace mailsan::daemon
