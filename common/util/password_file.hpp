// Secrets kept in files (redis_password_file and the like): the first line
// of the file, so that the secret appears in no config file, command line or
// --dump-config. Called by the Redis clients (common/redis, mailsanctl).
#pragma once

#include <string>

namespace mailsan::util {

// The first line of `path` without its line ending (LF or CRLF) into
// *password. False with the reason in *error when the file cannot be read
// or its first line is empty (an empty secret is always a mistake).
bool read_password_file(const std::string& path, std::string* password, std::string* error);

}  // namespace mailsan::util
