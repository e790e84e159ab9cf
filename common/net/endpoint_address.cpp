#include "common/net/endpoint_address.hpp"

#include <charconv>
#include <stdexcept>

namespace mailsan::net {

std::string EndpointAddress::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  bool v6 = host.find(':') != std::string::npos;
  return "inet:" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<EndpointAddress> parse_endpoint(std::string_view text, std::string* error,
                                              PortZero port_zero) {
  auto fail = [&](const char* why) -> std::optional<EndpointAddress> {
    if (error) *error = why;
    return std::nullopt;
  };
  EndpointAddress out;
  if (text.starts_with("unix:")) {
    out.kind = EndpointAddress::Kind::unix_socket;
    out.path = std::string(text.substr(5));
    if (out.path.empty() || out.path.front() != '/')
      return fail("unix socket path must be absolute");
    if (out.path.size() >= 108) return fail("unix socket path too long");
    return out;
  }
  if (text.starts_with("inet:"))
    text.remove_prefix(5);
  else if (text.starts_with("tcp:"))
    text.remove_prefix(4);

  std::string_view host, port;
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return fail("missing ':PORT'");
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("missing ':PORT'");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return fail("IPv6 address must be in brackets");
    port = text.substr(colon + 1);
  }
  if (host.empty()) return fail("missing host");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  const unsigned lowest = port_zero == PortZero::allowed ? 0 : 1;
  if (ec != std::errc{} || ptr != port.data() + port.size() || port.empty() || value < lowest ||
      value > 65535)
    return fail(lowest == 0 ? "port must be a number from 0 to 65535"
                            : "port must be a number from 1 to 65535");
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

void check_endpoint(const std::string& text) {
  std::string error;
  if (!parse_endpoint(text, &error)) throw std::invalid_argument(error);
}

}  // namespace mailsan::net
