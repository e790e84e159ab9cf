// SPF record syntax (RFC 7208 §4.5, §4.6, §12). See record.hpp.
#include "common/spf/record.hpp"

#include <cctype>

#include "common/spf/macro.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::spf {
namespace {

using util::iequals;

bool is_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view label) {
  if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
  bool alpha = false, hyphen = false;
  for (char c : label) {
    if (c == '-')
      hyphen = true;
    else if (is_alpha(c))
      alpha = true;
    else if (!is_digit(c))
      return false;
  }
  return alpha || hyphen;
}

// Whether the macro-string ends with a macro-expand ("%{...}", "%%", "%_",
// "%-"); the syntax is already known to be valid.
bool ends_with_macro(std::string_view spec) {
  std::size_t pos = 0;
  bool last_was_macro = false;
  while (pos < spec.size()) {
    if (spec[pos] != '%') {
      last_was_macro = false;
      ++pos;
      continue;
    }
    last_was_macro = true;
    if (spec[pos + 1] == '{')
      pos = spec.find('}', pos) + 1;
    else
      pos += 2;
  }
  return last_was_macro;
}

// A CIDR length: "0" or digits without a leading zero, at most max.
std::optional<unsigned> parse_length(std::string_view digits, unsigned max) {
  if (!all_digits(digits) || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
    return std::nullopt;
  unsigned value = 0;
  for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > max) return std::nullopt;
  return value;
}

bool fail(std::string* error, std::string message) {
  *error = std::move(message);
  return false;
}

// "a" and "mx": [":" domain-spec] [ "/" ip4-cidr ] [ "//" ip6-cidr ].
bool parse_domain_and_dual_cidr(std::string_view rest, Mechanism& mechanism, std::string* error) {
  auto slashes = rest.rfind("//");
  if (slashes != std::string_view::npos && all_digits(rest.substr(slashes + 2))) {
    auto length = parse_length(rest.substr(slashes + 2), 128);
    if (!length) return fail(error, "invalid ip6-cidr-length");
    mechanism.cidr6 = *length;
    rest = rest.substr(0, slashes);
  }
  auto slash = rest.rfind('/');
  if (slash != std::string_view::npos && all_digits(rest.substr(slash + 1))) {
    auto length = parse_length(rest.substr(slash + 1), 32);
    if (!length) return fail(error, "invalid ip4-cidr-length");
    mechanism.cidr4 = *length;
    rest = rest.substr(0, slash);
  }
  if (rest.empty()) return true;
  if (rest[0] != ':') return fail(error, "malformed mechanism");
  mechanism.domain_spec = rest.substr(1);
  return valid_domain_spec(mechanism.domain_spec, error);
}

bool parse_ip(std::string_view rest, bool v6, Mechanism& mechanism, std::string* error) {
  if (rest.empty() || rest[0] != ':') return fail(error, "missing address");
  rest.remove_prefix(1);
  auto slash = rest.find('/');
  auto address_text = rest.substr(0, slash);
  // inet_pton is lenient in places the ABNF is not; the ip4 form is checked here.
  if (!v6) {
    int dots = 0;
    for (char c : address_text) {
      if (c == '.')
        ++dots;
      else if (!is_digit(c))
        return fail(error, "invalid ip4-network");
    }
    if (dots != 3) return fail(error, "invalid ip4-network");
  }
  auto address = net::IpAddress::parse(address_text);
  if (!address || address->v6 != v6)
    return fail(error, v6 ? "invalid ip6-network" : "invalid ip4-network");
  unsigned length = v6 ? 128 : 32;
  if (slash != std::string_view::npos) {
    auto parsed = parse_length(rest.substr(slash + 1), length);
    if (!parsed) return fail(error, v6 ? "invalid ip6-cidr-length" : "invalid ip4-cidr-length");
    length = *parsed;
  }
  mechanism.network = net::Cidr{address->masked(length), length};
  return true;
}

bool parse_mechanism(std::string_view term, Mechanism& mechanism, std::string* error) {
  mechanism.text = term;
  if (!term.empty() && std::string_view("+-~?").find(term[0]) != std::string_view::npos) {
    mechanism.qualifier = static_cast<Qualifier>(term[0]);
    term.remove_prefix(1);
  }
  std::size_t name_end = 0;
  while (name_end < term.size() && is_alnum(term[name_end])) ++name_end;
  auto name = term.substr(0, name_end);
  auto rest = term.substr(name_end);
  if (iequals(name, "all")) {
    mechanism.kind = MechanismKind::all;
    return rest.empty() || fail(error, "\"all\" takes no arguments");
  }
  if (iequals(name, "include") || iequals(name, "exists")) {
    mechanism.kind = iequals(name, "include") ? MechanismKind::include : MechanismKind::exists;
    if (rest.size() < 2 || rest[0] != ':') return fail(error, "missing domain-spec");
    mechanism.domain_spec = rest.substr(1);
    return valid_domain_spec(mechanism.domain_spec, error);
  }
  if (iequals(name, "a") || iequals(name, "mx")) {
    mechanism.kind = iequals(name, "a") ? MechanismKind::a : MechanismKind::mx;
    return parse_domain_and_dual_cidr(rest, mechanism, error);
  }
  if (iequals(name, "ptr")) {
    mechanism.kind = MechanismKind::ptr;
    if (rest.empty()) return true;
    if (rest[0] != ':') return fail(error, "malformed ptr mechanism");
    mechanism.domain_spec = rest.substr(1);
    return valid_domain_spec(mechanism.domain_spec, error);
  }
  if (iequals(name, "ip4") || iequals(name, "ip6")) {
    mechanism.kind = iequals(name, "ip4") ? MechanismKind::ip4 : MechanismKind::ip6;
    return parse_ip(rest, mechanism.kind == MechanismKind::ip6, mechanism, error);
  }
  return fail(error, "unknown mechanism \"" + std::string(name) + "\"");
}

// name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=".
std::size_t modifier_name_length(std::string_view term) {
  if (term.empty() || !is_alpha(term[0])) return 0;
  std::size_t n = 1;
  while (n < term.size() &&
         (is_alnum(term[n]) || term[n] == '-' || term[n] == '_' || term[n] == '.'))
    ++n;
  return n < term.size() && term[n] == '=' ? n : 0;
}

}  // namespace

bool is_spf_record(std::string_view txt) {
  return txt.size() >= 6 && iequals(txt.substr(0, 6), "v=spf1") &&
         (txt.size() == 6 || txt[6] == ' ');
}

bool valid_domain_spec(std::string_view spec, std::string* error) {
  if (spec.empty()) return fail(error, "empty domain-spec");
  if (!valid_macro_string(spec, MacroScope::domain, error)) return false;
  if (ends_with_macro(spec)) return true;
  if (spec.back() == '.') spec.remove_suffix(1);
  auto dot = spec.rfind('.');
  if (dot == std::string_view::npos || !valid_toplabel(spec.substr(dot + 1)))
    return fail(error, "domain-spec \"" + std::string(spec) + "\" does not end in a top label");
  return true;
}

bool valid_check_domain(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > 253) return false;
  for (char c : domain) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte > 0x7e) return false;
  }
  auto dot = domain.rfind('.');
  if (dot == std::string_view::npos || !valid_toplabel(domain.substr(dot + 1))) return false;
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    if (end == start || end - start > 63) return false;
    start = end + 1;
  }
  return true;
}

std::optional<Record> parse_record(std::string_view text, std::string* error) {
  if (!is_spf_record(text)) {
    *error = "not an SPF record";
    return std::nullopt;
  }
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7e) {
      *error = "character outside printable ASCII in record";
      return std::nullopt;
    }
  }
  Record record;
  std::string_view rest = text.substr(6);
  while (!rest.empty()) {
    auto space = rest.find(' ');
    auto term = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (term.empty()) continue;
    if (auto name_length = modifier_name_length(term); name_length != 0) {
      auto name = term.substr(0, name_length);
      auto value = term.substr(name_length + 1);
      std::optional<std::string>* slot = nullptr;
      if (iequals(name, "redirect")) slot = &record.redirect;
      if (iequals(name, "exp")) slot = &record.explanation;
      if (slot == nullptr) {
        // Unknown modifiers are ignored (§6), but must still be well formed.
        if (!valid_macro_string(value, MacroScope::domain, error)) return std::nullopt;
        continue;
      }
      if (slot->has_value()) {
        *error = "duplicate " + std::string(name) + "= modifier";
        return std::nullopt;
      }
      if (!valid_domain_spec(value, error)) return std::nullopt;
      *slot = std::string(value);
      continue;
    }
    if (term.find('=') != std::string_view::npos && !is_alpha(term[0])) {
      *error = "malformed modifier \"" + std::string(term) + "\"";
      return std::nullopt;
    }
    Mechanism mechanism;
    if (!parse_mechanism(term, mechanism, error)) return std::nullopt;
    record.mechanisms.push_back(std::move(mechanism));
  }
  return record;
}

}  // namespace mailsan::spf
