// SPF macro expansion (RFC 7208 §7). See macro.hpp.
#include "common/spf/macro.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/util/ascii.hpp"

namespace mailsan::spf {
namespace {

constexpr std::string_view kDelimiters = ".-+,/_=";
// Far more right-hand parts than any name has; keeps the count in range.
constexpr unsigned kMaxParts = 1000;

bool is_domain_letter(char c) {
  return std::string_view("slodiphv").find(c) != std::string_view::npos;
}

bool is_explanation_only_letter(char c) {
  return std::string_view("crt").find(c) != std::string_view::npos;
}

using util::ascii_lower;

struct MacroExpand {
  char letter = 0;     // as written; upper case asks for URL escaping
  unsigned parts = 0;  // 0: all
  bool reverse = false;
  std::string delimiters;
};

// Parses "%{...}" at text[pos] (pos at the '{'), advancing pos past the '}'.
std::optional<MacroExpand> parse_expand(std::string_view text, std::size_t& pos, MacroScope scope,
                                        std::string* error) {
  MacroExpand out;
  ++pos;  // '{'
  if (pos >= text.size()) {
    *error = "unterminated macro";
    return std::nullopt;
  }
  out.letter = text[pos];
  char letter = ascii_lower(out.letter);
  if (!is_domain_letter(letter) &&
      !(scope == MacroScope::explanation && is_explanation_only_letter(letter))) {
    *error = std::string("invalid macro letter '") + out.letter + "'";
    return std::nullopt;
  }
  ++pos;
  bool has_digits = false;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    has_digits = true;
    out.parts = std::min(kMaxParts, out.parts * 10 + static_cast<unsigned>(text[pos] - '0'));
    ++pos;
  }
  if (has_digits && out.parts == 0) {
    *error = "macro transformer of zero parts";
    return std::nullopt;
  }
  if (pos < text.size() && ascii_lower(text[pos]) == 'r') {
    out.reverse = true;
    ++pos;
  }
  while (pos < text.size() && kDelimiters.find(text[pos]) != std::string_view::npos)
    out.delimiters += text[pos++];
  if (pos >= text.size() || text[pos] != '}') {
    *error = "malformed macro";
    return std::nullopt;
  }
  ++pos;
  return out;
}

bool is_unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

std::string url_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string readable_ip(const net::IpAddress& ip) {
  return ip.to_string();
}

std::string letter_value(char letter, const MacroContext& context) {
  switch (letter) {
    case 's':
      return std::string(context.sender);
    case 'l':
      return std::string(context.local_part);
    case 'o':
      return std::string(context.sender_domain);
    case 'd':
      return std::string(context.domain);
    case 'i':
      return dotted_ip(context.ip);
    case 'p':
      return std::string(context.validated_name.empty() ? "unknown" : context.validated_name);
    case 'h':
      return std::string(context.helo);
    case 'v':
      return context.ip.v6 ? "ip6" : "in-addr";
    case 'c':
      return readable_ip(context.ip);
    case 'r':
      return std::string(context.receiver.empty() ? "unknown" : context.receiver);
    case 't':
      return std::to_string(context.timestamp);
    default:
      return {};
  }
}

std::string apply_transformers(const std::string& value, const MacroExpand& expand) {
  std::string_view delimiters = expand.delimiters;
  if (delimiters.empty()) delimiters = ".";
  std::vector<std::string_view> parts;
  std::string_view rest = value;
  while (true) {
    auto at = rest.find_first_of(delimiters);
    parts.push_back(rest.substr(0, at));
    if (at == std::string_view::npos) break;
    rest.remove_prefix(at + 1);
  }
  if (expand.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t first = 0;
  if (expand.parts != 0 && expand.parts < parts.size()) first = parts.size() - expand.parts;
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) {
    if (i != first) out += '.';
    out += parts[i];
  }
  return out;
}

// One pass for checking and expanding; context is null when only checking.
std::optional<std::string> run(std::string_view text, const MacroContext* context, MacroScope scope,
                               std::string* error) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    char c = text[pos];
    auto byte = static_cast<unsigned char>(c);
    if (c != '%') {
      // macro-literal is printable ASCII; explanations may also hold spaces.
      if (byte > 0x7e || byte < 0x20 || (c == ' ' && scope != MacroScope::explanation)) {
        *error = "invalid character in macro-string";
        return std::nullopt;
      }
      out += c;
      ++pos;
      continue;
    }
    if (pos + 1 >= text.size()) {
      *error = "'%' at the end of a macro-string";
      return std::nullopt;
    }
    char next = text[pos + 1];
    if (next == '%' || next == '_' || next == '-') {
      out += next == '%' ? "%" : next == '_' ? " " : "%20";
      pos += 2;
      continue;
    }
    if (next != '{') {
      *error = std::string("invalid macro '%") + next + "'";
      return std::nullopt;
    }
    ++pos;
    auto expand = parse_expand(text, pos, scope, error);
    if (!expand) return std::nullopt;
    if (context == nullptr) continue;
    std::string value =
        apply_transformers(letter_value(ascii_lower(expand->letter), *context), *expand);
    out += std::isupper(static_cast<unsigned char>(expand->letter)) ? url_escape(value) : value;
  }
  return out;
}

}  // namespace

bool valid_macro_string(std::string_view text, MacroScope scope, std::string* error) {
  return run(text, nullptr, scope, error).has_value();
}

std::optional<std::string> expand_macros(std::string_view text, const MacroContext& context,
                                         MacroScope scope, std::string* error) {
  return run(text, &context, scope, error);
}

bool uses_macro(std::string_view text, char letter) {
  for (std::size_t pos = 0; pos + 2 < text.size(); ++pos) {
    if (text[pos] != '%') continue;
    if (text[pos + 1] == '{' && ascii_lower(text[pos + 2]) == ascii_lower(letter)) return true;
    ++pos;  // skip "%%" so its second '%' does not start a macro
  }
  return false;
}

std::string domain_for_query(std::string expanded) {
  if (!expanded.empty() && expanded.back() == '.') expanded.pop_back();
  while (expanded.size() > 253) {
    auto dot = expanded.find('.');
    if (dot == std::string::npos) break;
    expanded.erase(0, dot + 1);
  }
  return expanded;
}

std::string dotted_ip(const net::IpAddress& ip) {
  if (!ip.v6) return ip.to_string();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i != 0) out += '.';
    out += kHex[ip.bytes[i] >> 4];
    out += '.';
    out += kHex[ip.bytes[i] & 0xf];
  }
  return out;
}

}  // namespace mailsan::spf
