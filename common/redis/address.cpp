#include "common/redis/address.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace mailsan::redis {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits a trailing "/DB" off `text`. False with *error for a database
// number out of range; a text without a trailing "/DIGITS" is left alone.
bool take_database(std::string_view& text, std::optional<int>& database, std::string* error) {
  const auto slash = text.rfind('/');
  if (slash == std::string_view::npos) return true;
  const std::string_view number = text.substr(slash + 1);
  if (!all_digits(number)) return true;
  int value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc{} || ptr != number.data() + number.size() || value > kMaxDatabase) {
    if (error) *error = "database must be a number from 0 to " + std::to_string(kMaxDatabase);
    return false;
  }
  database = value;
  text = text.substr(0, slash);
  return true;
}

// "HOST:PORT,HOST:PORT,...": TCP endpoints only (spaces around commas allowed).
bool parse_node_list(std::string_view text, std::vector<net::EndpointAddress>& nodes,
                     std::string* error) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  if (text.find('/') != std::string_view::npos) return fail("unexpected '/' in the host list");
  while (true) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) return fail("empty entry in the host list");
    if (item.starts_with("unix:")) return fail("'" + std::string(item) + "': HOST:PORT expected");
    std::string why;
    auto endpoint = net::parse_endpoint(item, &why);
    if (!endpoint) return fail("'" + std::string(item) + "': " + why);
    if (nodes.size() == kMaxNodes)
      return fail("more than " + std::to_string(kMaxNodes) + " hosts in the list");
    nodes.push_back(std::move(*endpoint));
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

bool valid_master_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

std::optional<Address> parse_address(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Address> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  Address out;
  if (text.starts_with("sentinel:")) {
    out.kind = Address::Kind::sentinel;
    text.remove_prefix(9);
    const auto at = text.find('@');
    if (at == std::string_view::npos)
      return fail("sentinel:NAME@HOST:PORT[,HOST:PORT...][/DB] expected (missing '@')");
    out.master_name = std::string(text.substr(0, at));
    if (!valid_master_name(out.master_name))
      return fail("the master name must be 1 to 64 letters, digits, '-', '_' or '.'");
    text.remove_prefix(at + 1);
    std::string why;
    if (!take_database(text, out.database, &why) || !parse_node_list(text, out.nodes, &why))
      return fail("sentinel: " + why);
    return out;
  }
  if (text.starts_with("cluster:")) {
    out.kind = Address::Kind::cluster;
    text.remove_prefix(8);
    std::optional<int> database;
    std::string why;
    if (!take_database(text, database, &why)) return fail("cluster: " + why);
    if (database) return fail("cluster: Redis Cluster has no databases but 0; drop the /DB");
    if (!parse_node_list(text, out.nodes, &why)) return fail("cluster: " + why);
    return out;
  }
  std::string why;
  if (!take_database(text, out.database, &why)) return fail(why);
  auto server = net::parse_endpoint(text, &why);
  if (!server) return fail(why);
  out.server = std::move(*server);
  return out;
}

std::string unsupported_reason(const Address& address) {
  if (address.kind == Address::Kind::cluster)
    return "cluster: addresses are not supported yet (use tcp:, unix: or sentinel:)";
  return {};
}

void check_address(const std::string& text) {
  std::string error;
  auto address = parse_address(text, &error);
  if (!address) throw std::invalid_argument(error);
  std::string unsupported = unsupported_reason(*address);
  if (!unsupported.empty()) throw std::invalid_argument(unsupported);
}

std::string endpoint_text(const net::EndpointAddress& endpoint) {
  if (endpoint.kind == net::EndpointAddress::Kind::unix_socket) return endpoint.path;
  const bool v6 = endpoint.host.find(':') != std::string::npos;
  return (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

}  // namespace mailsan::redis
