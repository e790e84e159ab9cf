#include "common/dns/names.hpp"

#include <charconv>

namespace mailsan::dns {

std::optional<std::string> normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(name.size());
  std::size_t label_length = 0;
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label_length == 0) return std::nullopt;
      label_length = 0;
    } else {
      if (byte <= 0x20 || byte >= 0x7f || c == '\\') return std::nullopt;
      if (++label_length > 63) return std::nullopt;
    }
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  if (label_length == 0) return std::nullopt;
  return out;
}

namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<ServerAddress> parse_server(std::string_view text) {
  ServerAddress server;
  std::string_view host = text;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      auto port = parse_port(rest.substr(1));
      if (!port) return std::nullopt;
      server.port = *port;
    }
    auto address = net::IpAddress::parse(host);
    if (!address || !address->v6) return std::nullopt;
    server.address = *address;
    return server;
  }
  // One colon is HOST:PORT; more than one is a bare IPv6 address.
  const auto colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    host = text.substr(0, colon);
    auto port = parse_port(text.substr(colon + 1));
    if (!port) return std::nullopt;
    server.port = *port;
  }
  auto address = net::IpAddress::parse(host);
  if (!address) return std::nullopt;
  server.address = *address;
  return server;
}

}  // namespace mailsan::dns
