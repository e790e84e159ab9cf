// The Redis address forms of SPEC §4, one parser for the daemons' client
// and mailsanctl's:
//   tcp:HOST:PORT[/DB]   (also inet:HOST:PORT and HOST:PORT; IPv6 in brackets)
//   unix:/path[/DB]      (a last path element of digits only is the database)
//   sentinel:NAME@HOST:PORT[,HOST:PORT...][/DB]   the master NAME is found
//                        through the sentinels listed
//   cluster:HOST:PORT[,HOST:PORT...]              Redis Cluster (parsed; the
//                        clients refuse it for now)
// Pure: no name resolution, no sockets; hosts are kept as written.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/endpoint_address.hpp"

namespace mailsan::redis {

struct Address {
  enum class Kind { single, sentinel, cluster };
  Kind kind = Kind::single;
  net::EndpointAddress server;              // single: the one Redis server
  std::string master_name;                  // sentinel: the name the sentinels monitor
  std::vector<net::EndpointAddress> nodes;  // sentinel: the sentinels; cluster: seed nodes
  std::optional<int> database;              // the /DB suffix, when given
};

// The highest database number the /DB suffix takes (Redis' default set).
inline constexpr int kMaxDatabase = 15;
// At most this many sentinels or cluster seed nodes in one address.
inline constexpr std::size_t kMaxNodes = 16;

// Returns nullopt and sets *error (when given) for malformed input.
std::optional<Address> parse_address(std::string_view text, std::string* error = nullptr);

// The options-table check of the `redis` row: throws std::invalid_argument
// with the reason when `text` is malformed, and for the cluster form, which
// no client speaks yet (so that such a config fails --check-config).
void check_address(const std::string& text);

// What a parsed address's clients refuse, or empty: today the cluster form.
std::string unsupported_reason(const Address& address);

// "host:port" (IPv6 in brackets) or the unix path: for logs and metrics.
std::string endpoint_text(const net::EndpointAddress& endpoint);

}  // namespace mailsan::redis
