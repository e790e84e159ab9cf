// Parses the endpoint syntax used in every mailsan config:
//   inet:HOST:PORT, tcp:HOST:PORT, HOST:PORT   (IPv6 hosts in brackets: [::1]:10040)
//   unix:/path/to/socket
// Pure: no name resolution; HOST is kept as written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailsan::net {

struct EndpointAddress {
  enum class Kind { inet, unix_socket };
  Kind kind = Kind::inet;
  std::string host;  // inet: without brackets
  std::uint16_t port = 0;
  std::string path;  // unix

  std::string to_string() const;  // canonical "inet:host:port" or "unix:/path"
};

// Port 0 means "any free port": right for a listener, wrong for a peer.
enum class PortZero { refused, allowed };

// Returns nullopt and sets *error (when given) for malformed input.
std::optional<EndpointAddress> parse_endpoint(std::string_view text, std::string* error = nullptr,
                                              PortZero port_zero = PortZero::refused);

// An options-table row check: throws std::invalid_argument with the reason
// when `text` is not an endpoint.
void check_endpoint(const std::string& text);

}  // namespace mailsan::net
