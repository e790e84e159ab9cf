// SPF macro expansion (RFC 7208 §7): %{s l o d i p h v} in domain-specs and,
// in exp= explanations only, %{c r t}; transformers (digits, r),
// delimiters, URL escaping for upper-case letters, and %% %_ %-.
// Pure: the %{p} value (a DNS result) is looked up by the caller first,
// only when uses_macro(text, 'p') says it is needed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/net/cidr.hpp"

namespace mailsan::spf {

struct MacroContext {
  std::string_view sender;          // %{s}: local-part@domain
  std::string_view local_part;      // %{l}
  std::string_view sender_domain;   // %{o}
  std::string_view domain;          // %{d}: the domain being checked
  net::IpAddress ip;                // %{i}, %{c}, %{v}
  std::string_view validated_name;  // %{p}; "unknown" when none validated
  std::string_view helo;            // %{h}
  std::string_view receiver;        // %{r}
  std::int64_t timestamp = 0;       // %{t}
};

enum class MacroScope { domain, explanation };

// Checks the macro-string syntax alone.
bool valid_macro_string(std::string_view text, MacroScope scope, std::string* error);

// The expanded text, or nullopt with *error set when the syntax is wrong.
std::optional<std::string> expand_macros(std::string_view text, const MacroContext& context,
                                         MacroScope scope, std::string* error);

// Whether the text uses the macro letter (either case), e.g. 'p'.
bool uses_macro(std::string_view text, char letter);

// A domain-spec's expansion as a name to query: without a trailing dot and,
// when longer than 253 characters, with labels dropped from the left
// (§7.3).
std::string domain_for_query(std::string expanded);

// %{i}: dotted decimal for IPv4, dotted lower-case nibbles for IPv6 (§7.3).
std::string dotted_ip(const net::IpAddress& ip);

}  // namespace mailsan::spf
