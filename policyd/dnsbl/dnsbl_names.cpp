#include "policyd/dnsbl/dnsbl_names.hpp"

#include <algorithm>

#include "policyd/dnsbl/dnsbl_entry.hpp"

namespace mailsan::policyd::dnsbl {
namespace {

std::string lower_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out;
  out.reserve(name.size());
  for (char c : name) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  return out;
}

bool address_literal(std::string_view name) {
  if (!name.empty() && name.front() == '[') return true;
  return net::IpAddress::parse(name).has_value();
}

}  // namespace

std::string reversed_ip_name(const net::IpAddress& address, std::string_view zone) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  if (!address.v6) {
    name.reserve(16 + zone.size());
    for (int i = 3; i >= 0; --i) name.append(std::to_string(address.bytes[i])).push_back('.');
  } else {
    name.reserve(64 + zone.size());
    for (int i = 15; i >= 0; --i) {
      name.push_back(kHex[address.bytes[i] & 0x0f]);
      name.push_back('.');
      name.push_back(kHex[address.bytes[i] >> 4]);
      name.push_back('.');
    }
  }
  name.append(zone);
  return name;
}

std::vector<std::string> rhsbl_domains(std::string_view sender, std::string_view helo_name,
                                       std::string_view client_name) {
  std::vector<std::string> out;
  auto add = [&](std::string_view candidate) {
    if (candidate.empty() || address_literal(candidate)) return;
    std::string domain = lower_domain(candidate);
    if (domain == "unknown" || !valid_domain(domain)) return;
    if (std::find(out.begin(), out.end(), domain) == out.end()) out.push_back(std::move(domain));
  };
  if (auto at = sender.rfind('@'); at != std::string_view::npos) add(sender.substr(at + 1));
  add(helo_name);
  add(client_name);
  return out;
}

std::string rhsbl_name(std::string_view domain, std::string_view zone) {
  if (domain.size() + 1 + zone.size() > 253) return {};
  std::string name;
  name.reserve(domain.size() + 1 + zone.size());
  name.append(domain).append(".").append(zone);
  return name;
}

}  // namespace mailsan::policyd::dnsbl
