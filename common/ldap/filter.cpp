// RFC 4515 filter-value escaping. Addresses in recipient lookups come from
// untrusted SMTP clients; without escaping, "*" would turn an exact lookup
// into a wildcard match and ")(" could rewrite the filter.
#include <string>
#include <string_view>

#include "common/ldap/directory.hpp"

namespace mailsan::ldap {

namespace {

bool needs_escape(unsigned char c) {
  // Beyond the four RFC 4515 specials (and NUL), control and non-ASCII bytes
  // are escaped too: a hex escape is matched octet for octet, while a raw
  // byte that is not valid UTF-8 could make the server reject the filter.
  return c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f;
}

}  // namespace

std::string escape_filter_value(std::string_view value) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (needs_escape(c)) {
      out += '\\';
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string make_filter(std::string_view filter, std::string_view value) {
  const std::string escaped = escape_filter_value(value);
  std::string out;
  out.reserve(filter.size() + escaped.size());
  std::size_t pos = 0;
  while (pos < filter.size()) {
    const std::size_t found = filter.find("%s", pos);
    if (found == std::string_view::npos) break;
    out.append(filter.substr(pos, found - pos));
    out += escaped;
    pos = found + 2;
  }
  out.append(filter.substr(pos < filter.size() ? pos : filter.size()));
  return out;
}

}  // namespace mailsan::ldap
