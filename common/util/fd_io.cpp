#include "common/util/fd_io.hpp"

#include <unistd.h>

#include <cerrno>

namespace mailsan::util {

std::error_code last_errno() {
  return {errno, std::system_category()};
}

std::error_code write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    if (n == 0) return std::make_error_code(std::errc::no_space_on_device);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace mailsan::util
