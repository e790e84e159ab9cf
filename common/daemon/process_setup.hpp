// Process set-up shared by the daemons: file-descriptor limits, SIGPIPE, and
// dropping root after the sockets are bound.
#pragma once

#include <optional>
#include <string>

#include "common/config/common_rows.hpp"
#include "common/net/endpoint_address.hpp"

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

// The first steps of every daemon's run: logging as configured for
// `program`, the descriptor limit raised, SIGPIPE ignored, and the `listen`
// address parsed — nullopt, with the reason logged, when it is bad.
std::optional<net::EndpointAddress> start_process(const config::CommonConfig& config,
                                                  const char* program, const std::string& listen);

}  // namespace mailsan::daemon
