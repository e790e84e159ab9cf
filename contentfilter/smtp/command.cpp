#include "contentfilter/smtp/command.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "common/util/ascii.hpp"

namespace mailsan::filter::smtp {

namespace {

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}
bool is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

using util::iequals;

void skip_spaces(std::string_view& text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The length of the well-formed UTF-8 sequence (RFC 3629 §4: no overlong
// forms, no surrogates, nothing past U+10FFFF) that starts at text[at], or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  std::size_t length;
  unsigned char low = 0x80, high = 0xbf;  // bounds of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() - at < length) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(at + i) < 0x80 || byte(at + i) > 0xbf) return 0;
  return length;
}

// The address between the angle brackets, source route still on.
bool check_address(std::string_view address, std::string* error) {
  bool quoted = false;
  for (std::size_t i = 0; i < address.size(); ++i) {
    auto c = static_cast<unsigned char>(address[i]);
    if (c >= 0x80) {
      // RFC 6531: UTF-8 is allowed in addresses, but only well formed.
      std::size_t length = utf8_sequence_length(address, i);
      if (length == 0) {
        *error = "address is not valid UTF-8";
        return false;
      }
      i += length - 1;
      continue;
    }
    if (is_control(c)) {
      *error = "control character in address";
      return false;
    }
    if (quoted) {
      if (c == '"') {
        quoted = false;
      } else if (c == '\\') {
        // RFC 5321 quoted-pairSMTP: a backslash and one printable character.
        if (i + 1 >= address.size() || is_control(static_cast<unsigned char>(address[i + 1])) ||
            static_cast<unsigned char>(address[i + 1]) >= 0x80) {
          *error = "bad quoted pair in address";
          return false;
        }
        ++i;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == ' ') {
      *error = "space in address";
      return false;
    } else if (c == '<' || c == '>') {
      *error = "unbalanced angle bracket in address";
      return false;
    }
  }
  if (quoted) {
    *error = "unterminated quoted string in address";
    return false;
  }
  return true;
}

// RFC 5321 §4.1.2: esmtp-keyword ["=" esmtp-value]. The value is any
// printable US-ASCII but space; '=' is let through because values such as
// AUTH=<> and ORCPT's xtext are replayed, not interpreted, here.
bool valid_parameter(std::string_view parameter) {
  std::size_t equals = parameter.find('=');
  std::string_view keyword = parameter.substr(0, equals);
  if (keyword.empty() || !is_alnum(static_cast<unsigned char>(keyword[0]))) return false;
  for (char c : keyword)
    if (!is_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
  if (equals == std::string_view::npos) return true;
  std::string_view value = parameter.substr(equals + 1);
  if (value.empty()) return false;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126) return false;
  }
  return true;
}

std::optional<Path> parse_path(std::string_view argument, std::string_view prefix,
                               bool null_allowed, std::string* error) {
  std::string_view rest = argument;
  skip_spaces(rest);
  if (rest.size() < prefix.size() || !iequals(rest.substr(0, prefix.size()), prefix)) {
    *error = std::string("expected ") + std::string(prefix) + "<address>";
    return std::nullopt;
  }
  rest.remove_prefix(prefix.size());
  skip_spaces(rest);

  std::string_view address;
  if (!rest.empty() && rest.front() == '<') {
    // The closing bracket is the first one outside a quoted local part:
    // <"a>b"@example.com> is one address.
    std::size_t close = 1;
    bool quoted = false;
    for (; close < rest.size(); ++close) {
      char c = rest[close];
      if (quoted) {
        if (c == '\\')
          ++close;
        else if (c == '"')
          quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == '>') {
        break;
      }
    }
    if (close >= rest.size()) {
      *error = quoted ? "unterminated quoted string in address" : "missing '>' after the address";
      return std::nullopt;
    }
    address = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
  } else {
    std::size_t end = rest.find(' ');
    address = rest.substr(0, end);
    rest.remove_prefix(address.size());
    if (address.empty()) {
      *error = "missing address";
      return std::nullopt;
    }
  }
  if (address.size() + 2 > kMaxPathBytes) {
    *error = "path longer than 256 bytes";
    return std::nullopt;
  }
  if (!check_address(address, error)) return std::nullopt;
  if (!rest.empty() && rest.front() != ' ') {
    *error = "text after '>' that is not a parameter";
    return std::nullopt;
  }
  // RFC 5321 §4.1.1.3: a source route (<@a,@b:user@c>) must be accepted and
  // ignored; only the mailbox after the route's colon is kept.
  if (!address.empty() && address.front() == '@') {
    std::size_t colon = address.find(':');
    if (colon == std::string_view::npos) {
      *error = "source route without ':'";
      return std::nullopt;
    }
    address.remove_prefix(colon + 1);
    if (address.empty()) {
      *error = "source route without a mailbox";
      return std::nullopt;
    }
  }
  if (address.empty() && !null_allowed) {
    *error = "the null path is not a recipient";
    return std::nullopt;
  }

  Path path;
  path.address = std::string(address);
  for (;;) {
    skip_spaces(rest);
    if (rest.empty()) break;
    std::string_view parameter = rest.substr(0, rest.find(' '));
    if (!valid_parameter(parameter)) {
      *error = "malformed parameter";
      return std::nullopt;
    }
    path.parameters.emplace_back(parameter);
    rest.remove_prefix(parameter.size());
  }
  return path;
}

struct VerbName {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbName, 13> kVerbs{{
    {"EHLO", Verb::ehlo},
    {"HELO", Verb::helo},
    {"XFORWARD", Verb::xforward},
    {"MAIL", Verb::mail},
    {"RCPT", Verb::rcpt},
    {"DATA", Verb::data},
    {"RSET", Verb::rset},
    {"NOOP", Verb::noop},
    {"QUIT", Verb::quit},
    {"VRFY", Verb::vrfy},
    {"BDAT", Verb::bdat},
    {"STARTTLS", Verb::starttls},
    {"AUTH", Verb::auth},
}};

}  // namespace

LineReader::Status LineReader::fail(const char* why) {
  error_ = why;
  return Status::error;
}

void LineReader::reset() {
  line_.clear();
  line_complete_ = false;
  pending_cr_ = false;
  error_.clear();
}

LineReader::Status LineReader::feed(std::string_view bytes, std::size_t& consumed) {
  consumed = 0;
  if (!error_.empty()) return Status::error;
  if (line_complete_) {
    line_.clear();
    line_complete_ = false;
  }
  while (consumed < bytes.size()) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (bytes[consumed++] != '\n') return fail("bare CR");
      line_complete_ = true;
      return Status::line;
    }
    // Copy the run of ordinary bytes up to the next CR or LF in one go.
    std::size_t end = consumed;
    while (end < bytes.size() && bytes[end] != '\r' && bytes[end] != '\n') ++end;
    std::size_t room = max_line_bytes_ >= 2 ? max_line_bytes_ - 2 - line_.size() : 0;
    if (end - consumed > room) {
      // Stop at the first byte past the limit, so that where the error is
      // found does not depend on how the stream was split into reads.
      line_.append(bytes.substr(consumed, room));
      consumed += room + 1;
      return fail("line too long");
    }
    line_.append(bytes.substr(consumed, end - consumed));
    consumed = end;
    if (end == bytes.size()) break;
    if (bytes[consumed++] == '\n') return fail("bare LF");
    pending_cr_ = true;
  }
  return Status::incomplete;
}

Command parse_command(std::string_view line) {
  std::size_t space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  Command command;
  if (space != std::string_view::npos) command.argument = std::string(line.substr(space + 1));
  for (const auto& entry : kVerbs) {
    if (iequals(verb, entry.name)) {
      command.verb = entry.verb;
      break;
    }
  }
  return command;
}

std::string_view verb_name(Verb verb) {
  for (const auto& entry : kVerbs)
    if (entry.verb == verb) return entry.name;
  return "UNKNOWN";
}

std::optional<Path> parse_mail_from(std::string_view argument, std::string* error) {
  auto path = parse_path(argument, "FROM:", true, error);
  if (!path) return path;
  // RFC 1870: size-value ::= 1*20DIGIT. Anything else would be compared as
  // garbage against message_size_limit and passed on to the next hop.
  if (auto size = parameter(*path, "SIZE")) {
    bool digits =
        !size->empty() && size->size() <= 20 &&
        std::all_of(size->begin(), size->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
      *error = "SIZE must be 1 to 20 digits (RFC 1870)";
      return std::nullopt;
    }
  }
  return path;
}

std::optional<Path> parse_rcpt_to(std::string_view argument, std::string* error) {
  return parse_path(argument, "TO:", false, error);
}

std::optional<std::string_view> parameter(const Path& path, std::string_view keyword) {
  for (const std::string& p : path.parameters) {
    std::string_view text = p;
    std::size_t equals = text.find('=');
    if (!iequals(text.substr(0, equals), keyword)) continue;
    if (equals == std::string_view::npos) return std::string_view();
    return text.substr(equals + 1);
  }
  return std::nullopt;
}

std::string xtext_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == '+' || c == '=') {
      out += '+';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> xtext_decode(std::string_view xtext, std::string* error) {
  std::string out;
  out.reserve(xtext.size());
  for (std::size_t i = 0; i < xtext.size(); ++i) {
    auto u = static_cast<unsigned char>(xtext[i]);
    if (u == '+') {
      bool two_digits =
          i + 2 < xtext.size() && hex_value(xtext[i + 1]) >= 0 && hex_value(xtext[i + 2]) >= 0;
      if (!two_digits) {
        *error = "malformed xtext: '+' without two hex digits";
        return std::nullopt;
      }
      out += static_cast<char>(hex_value(xtext[i + 1]) * 16 + hex_value(xtext[i + 2]));
      i += 2;
    } else if (u < 33 || u > 126 || u == '=') {
      *error = "malformed xtext: a byte that must be escaped";
      return std::nullopt;
    } else {
      out += static_cast<char>(u);
    }
  }
  return out;
}

std::optional<std::vector<XforwardAttribute>> parse_xforward(std::string_view argument,
                                                             std::string* error) {
  std::vector<XforwardAttribute> attributes;
  std::string_view rest = argument;
  for (;;) {
    skip_spaces(rest);
    if (rest.empty()) break;
    std::string_view item = rest.substr(0, rest.find(' '));
    rest.remove_prefix(item.size());
    std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      *error = "XFORWARD attribute without '='";
      return std::nullopt;
    }
    XforwardAttribute attribute;
    for (char c : item.substr(0, equals)) {
      if (!is_alnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
        *error = "malformed XFORWARD attribute name";
        return std::nullopt;
      }
      attribute.name += to_upper(c);
    }
    if (attribute.name.empty()) {
      *error = "XFORWARD attribute without a name";
      return std::nullopt;
    }
    std::string_view encoded = item.substr(equals + 1);
    if (encoded.empty()) {
      *error = "XFORWARD attribute without a value";
      return std::nullopt;
    }
    auto value = xtext_decode(encoded, error);
    if (!value) return std::nullopt;
    // Postfix sends only printable values (it neuters the rest); a control
    // character here could only split a log line or a replayed command.
    for (char c : *value) {
      if (is_control(static_cast<unsigned char>(c))) {
        *error = "control character in an XFORWARD value";
        return std::nullopt;
      }
    }
    attribute.value = std::move(*value);
    attributes.push_back(std::move(attribute));
  }
  if (attributes.empty()) {
    *error = "XFORWARD without attributes";
    return std::nullopt;
  }
  return attributes;
}

}  // namespace mailsan::filter::smtp
