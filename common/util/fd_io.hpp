// Writing to a descriptor without losing bytes: short writes and signals
// are retried, and errors come back as values (errno as a std::error_code).
#pragma once

#include <string_view>
#include <system_error>

namespace mailsan::util {

// errno as an error code.
std::error_code last_errno();

// Writes all of `bytes`. A write() that returns 0 for a non-empty regular
// file write means no progress is possible: a full disk, not a spin.
std::error_code write_all(int fd, std::string_view bytes);

}  // namespace mailsan::util
