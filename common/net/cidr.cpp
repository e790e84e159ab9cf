#include "common/net/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace mailsan::net {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton needs a terminated string; addresses are short.
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress out;
  if (::inet_pton(AF_INET, buf, out.bytes.data()) == 1) return out;
  std::array<std::uint8_t, 16> v6{};
  if (::inet_pton(AF_INET6, buf, v6.data()) != 1) return std::nullopt;
  out.v6 = true;
  out.bytes = v6;
  return out;
}

IpAddress IpAddress::unmapped() const {
  static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!v6 || std::memcmp(bytes.data(), kMappedPrefix, 12) != 0) return *this;
  IpAddress out;
  std::memcpy(out.bytes.data(), bytes.data() + 12, 4);
  return out;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

IpAddress IpAddress::masked(unsigned prefix_length) const {
  IpAddress out = *this;
  const std::size_t bits = bit_length();
  if (prefix_length >= bits) return out;
  const std::size_t total_bytes = bits / 8;
  std::size_t full = prefix_length / 8;
  unsigned rest = prefix_length % 8;
  if (rest != 0) {
    out.bytes[full] &= static_cast<std::uint8_t>(0xff << (8 - rest));
    ++full;
  }
  for (std::size_t i = full; i < total_bytes; ++i) out.bytes[i] = 0;
  return out;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  unsigned length = static_cast<unsigned>(address->bit_length());
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() ||
        length > address->bit_length())
      return std::nullopt;
  }
  return Cidr{address->masked(length), length};
}

bool Cidr::contains(const IpAddress& address) const {
  return address.v6 == network.v6 && address.masked(prefix_length) == network;
}

std::string Cidr::to_string() const {
  return network.to_string() + "/" + std::to_string(prefix_length);
}

}  // namespace mailsan::net
