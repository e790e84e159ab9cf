// Process set-up shared by the daemons: file-descriptor limits, SIGPIPE, and
// dropping root after the sockets are bound.
#pragma once

#include <string>

namespace mailsan::daemon {

// Raises the soft RLIMIT_NOFILE to the hard limit: every policy or SMTP
// connection is a descriptor, and the default 1024 is too few for a busy MX.
// The system's host name (gethostname), or "localhost" when it has none;
// for a daemon's hostname option left empty.
std::string host_name();
void raise_file_limit();
// Writes to a socket the peer closed must come back as errors, not kill us.
void ignore_sigpipe();
// Switches to `user` (its uid, gid and supplementary groups). Empty: no
// change. Throws std::runtime_error with the reason.
void drop_privileges(const std::string& user);

}  // namespace mailsan::daemon
