#include "common/redis/sentinel_replies.hpp"

#include <vector>

namespace mailsan::redis {
namespace {

std::optional<net::EndpointAddress> endpoint_of(std::string_view host, std::string_view port) {
  if (host.empty() || host.find_first_of("[]/ ") != std::string_view::npos) return std::nullopt;
  const bool v6 = host.find(':') != std::string_view::npos;
  std::string text = v6 ? "[" + std::string(host) + "]" : std::string(host);
  text += ':';
  text += port;
  return net::parse_endpoint(text);
}

}  // namespace

std::optional<net::EndpointAddress> master_from_reply(const Reply& reply, std::string* error) {
  if (reply.is_nil()) {
    *error = "the sentinel does not know this master name";
    return std::nullopt;
  }
  if (reply.is_error()) {
    *error = reply.str;
    return std::nullopt;
  }
  if (reply.type != Reply::Type::array || reply.elements.size() != 2 ||
      reply.elements[0].type != Reply::Type::string ||
      reply.elements[1].type != Reply::Type::string) {
    *error = "malformed reply to SENTINEL get-master-addr-by-name";
    return std::nullopt;
  }
  auto endpoint = endpoint_of(reply.elements[0].str, reply.elements[1].str);
  if (!endpoint) *error = "malformed master address from the sentinel";
  return endpoint;
}

std::optional<net::EndpointAddress> switched_master(std::string_view payload,
                                                    std::string_view master_name) {
  std::vector<std::string_view> words;
  while (!payload.empty() && words.size() <= 5) {
    const auto space = payload.find(' ');
    words.push_back(payload.substr(0, space));
    if (space == std::string_view::npos) break;
    payload.remove_prefix(space + 1);
  }
  if (words.size() != 5 || words[0] != master_name) return std::nullopt;
  return endpoint_of(words[3], words[4]);
}

bool role_is_master(const Reply& reply, std::string* role) {
  if (reply.type == Reply::Type::array && !reply.elements.empty() &&
      reply.elements[0].type == Reply::Type::string) {
    *role = reply.elements[0].str;
    return *role == "master";
  }
  *role = reply.is_error() ? reply.str : "no role";
  return false;
}

}  // namespace mailsan::redis
