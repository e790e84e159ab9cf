// IP addresses and networks, pure: parsing, masking and matching for IPv4 and
// IPv6. IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) stay IPv6 when parsed
// (DNSBL test points use them as IPv6); unmapped() turns them into IPv4 where
// the client's network is meant.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailsan::net {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  static std::optional<IpAddress> parse(std::string_view text);
  std::size_t bit_length() const { return v6 ? 128 : 32; }
  // ::ffff:a.b.c.d as a.b.c.d; any other address unchanged.
  IpAddress unmapped() const;
  std::string to_string() const;
  // Zeroes every bit past prefix_length (clamped to the address length).
  IpAddress masked(unsigned prefix_length) const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  IpAddress network;  // already masked
  unsigned prefix_length = 0;

  // "192.0.2.0/24", "2001:db8::/32", or a bare address (a host route).
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& address) const;
  std::string to_string() const;  // "192.0.2.0/24"
};

}  // namespace mailsan::net
