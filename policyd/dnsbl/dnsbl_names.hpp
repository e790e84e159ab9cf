// The DNS names a DNSBL or RHSBL lookup asks for (RFC 5782): the client
// address reversed under the zone, or a domain from the request prepended
// to the zone. Pure.
//
// SECURITY: the HELO name, client name and sender come from the SMTP client;
// only names that are well-formed DNS names are ever queried.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/net/cidr.hpp"

namespace mailsan::policyd::dnsbl {

// "2.0.0.127.zone" for 127.0.0.2; 32 reversed nibbles for IPv6, including
// IPv4-mapped addresses (that is how lists publish their ::FFFF:7F00:2 test
// point).
std::string reversed_ip_name(const net::IpAddress& address, std::string_view zone);

// The domains RHSBL zones are asked about, lower case, without duplicates:
// the sender's domain (none for the null sender), the HELO name unless it is
// empty, "unknown" or an address literal, and the client's verified name
// unless it is "unknown". Anything that is not a DNS name is left out.
std::vector<std::string> rhsbl_domains(std::string_view sender, std::string_view helo_name,
                                       std::string_view client_name);

// "domain.zone", or empty when the result would be longer than a DNS name
// may be.
std::string rhsbl_name(std::string_view domain, std::string_view zone);

}  // namespace mailsan::policyd::dnsbl
