// Fuzz target for the DNSBL entry parser and the query-name builders: any
// text must parse into an entry that keeps the parser's promises, or fail
// with a message; never crash.
#include "policyd/dnsbl/dnsbl_entry.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policyd/dnsbl/dnsbl_names.hpp"

namespace dnsbl = mailsan::policyd::dnsbl;
using mailsan::net::IpAddress;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto entry = dnsbl::parse_entry(input, &error);
  if (!entry) {
    if (error.empty()) std::abort();
  } else {
    if (!dnsbl::valid_domain(entry->zone)) std::abort();
    if (entry->weight < -dnsbl::kMaxWeight || entry->weight > dnsbl::kMaxWeight) std::abort();
    if (entry->filter)
      for (const auto& octet : entry->filter->octets)
        for (const auto& r : octet.ranges)
          if (r.low > r.high) std::abort();
    // The first bytes as an A record: matching reads only what exists.
    IpAddress a;
    for (std::size_t i = 0; i < 4 && i < size; ++i) a.bytes[i] = data[i];
    bool listed = entry->listed_by({a});
    if (!entry->filter && listed != (a.bytes[0] == 127)) std::abort();
    std::string name = dnsbl::reversed_ip_name(a, entry->zone);
    if (name.size() > 16 + entry->zone.size()) std::abort();
  }
  // The same bytes as untrusted request fields for RHSBL names.
  auto third = input.size() / 3;
  for (const auto& domain : dnsbl::rhsbl_domains(input.substr(0, third), input.substr(third, third),
                                                 input.substr(2 * third)))
    if (!dnsbl::valid_domain(domain)) std::abort();
  return 0;
}
