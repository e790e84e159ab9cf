// Turning a DNS reply into an Answer, without I/O: c-ares' parsers for the
// records, and a small reader of the raw message for the TTLs those parsers
// do not report in c-ares 1.18 (TXT, MX, PTR, and the SOA of a negative
// answer, RFC 2308 §5).
//
// SECURITY: the message comes from the network; every read is bounds
// checked and a malformed message yields nullopt or Status::error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/dns/resolver.hpp"

namespace mailsan::dns {

// The lowest TTL among the answer section's records; nullopt when there is
// none or the message is malformed. TTLs with the top bit set count as 0
// (RFC 2181 §8).
std::optional<std::uint32_t> answer_ttl(std::span<const unsigned char> message);

// How long a negative answer may be cached: the lower of the TTL and the
// MINIMUM field of the first SOA in the authority section; nullopt when
// there is no SOA or the message is malformed.
std::optional<std::uint32_t> negative_ttl(std::span<const unsigned char> message);

struct ParsedAnswer {
  Answer answer;                     // status and records; ttl left at 0
  std::optional<std::uint32_t> ttl;  // as the server gave it, before any bounds
};

// ares_status is what c-ares passed to the query callback; the message may be
// empty (c-ares gives none for a timeout).
ParsedAnswer parse_answer(RecordType type, int ares_status, std::span<const unsigned char> message);

// The c-ares status as an Answer status (ARES_ENOTFOUND → nxdomain, ...).
Status status_from_ares(int ares_status);

}  // namespace mailsan::dns
