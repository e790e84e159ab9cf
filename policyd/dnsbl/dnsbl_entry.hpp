// The postscreen-style DNSBL/DNSWL/RHSBL entry of SPEC §2.1 step 3,
// `zone[=filter]*weight`, and the test of a zone's A records against its
// filter. Pure: config text in, values or an error out, no I/O, so the
// parser is fuzzed (test/fuzz/dnsbl_entry.cpp).
//
// SECURITY: matches() reads A records from the network; they are bytes
// compared against the filter, nothing more.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/cidr.hpp"

namespace mailsan::policyd::dnsbl {

// One octet of a filter: a number, or a [..] pattern of `;`-separated
// numbers and `n..m` ranges.
struct OctetPattern {
  struct Range {
    std::uint8_t low = 0;
    std::uint8_t high = 0;
  };
  std::vector<Range> ranges;

  bool matches(std::uint8_t octet) const;
};

// `d.d.d.d` restricting which A records (return codes) count as a listing.
struct ReplyFilter {
  std::array<OctetPattern, 4> octets;

  bool matches(const net::IpAddress& address) const;
};

struct Entry {
  std::string zone;  // lower case, without a trailing dot
  std::optional<ReplyFilter> filter;
  int weight = 1;
  std::string text;  // the entry as written, for logs

  // True when any of the addresses counts as a listing: one that passes the
  // filter, or without a filter any 127.0.0.0/8 address (what lists answer;
  // anything else is a wildcard or a hijacked zone, not a listing).
  bool listed_by(const std::vector<net::IpAddress>& addresses) const;
};

inline constexpr int kMaxWeight = 1000;  // |weight|; keeps sums far from overflow

// Parses one entry. On error returns nullopt and sets *error to a message
// that names the problem ("weight must be ..."); the caller adds the option.
std::optional<Entry> parse_entry(std::string_view text, std::string* error);
std::optional<ReplyFilter> parse_filter(std::string_view text, std::string* error);
// A DNS name as zones and RHSBL domains must be: labels of letters, digits,
// '-' and '_', each 1 to 63 bytes, at most 253 bytes in all. One label is
// enough, since a private zone may be one.
bool valid_domain(std::string_view name);

}  // namespace mailsan::policyd::dnsbl
