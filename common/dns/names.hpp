// Pure helpers for the resolver: checking and normalising the names it is
// asked to look up, and parsing the server entries of its options.
//
// SECURITY: names come from untrusted clients (HELO names, sender domains),
// so anything c-ares would read as an escape or that could not be a host
// name on the wire is refused here, before a query is built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/net/cidr.hpp"

namespace mailsan::dns {

// The name lower-cased (ASCII) and without its trailing dot, or nullopt when
// it cannot be queried: empty, longer than 253 characters, an empty label or
// one longer than 63, or a byte outside printable ASCII, a space or a
// backslash (c-ares reads backslashes as escapes).
std::optional<std::string> normalize_name(std::string_view name);

struct ServerAddress {
  net::IpAddress address;
  std::uint16_t port = 53;
  bool operator==(const ServerAddress&) const = default;
};

// "127.0.0.1", "127.0.0.1:5353", "::1", "[::1]" or "[::1]:5353"; nullopt when
// malformed (a host name, a port of 0 or above 65535, stray characters).
std::optional<ServerAddress> parse_server(std::string_view text);

}  // namespace mailsan::dns
