#include "policyd/dnsbl/dnsbl_entry.hpp"

#include <charconv>

namespace mailsan::policyd::dnsbl {
namespace {

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

// 0..255 in decimal, at most three digits, nothing else.
std::optional<std::uint8_t> parse_octet(std::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 255) return std::nullopt;
  return static_cast<std::uint8_t>(value);
}

std::optional<OctetPattern> parse_pattern(std::string_view text, std::string* error) {
  OctetPattern pattern;
  if (text.empty() || text.front() != '[') {
    auto n = parse_octet(text);
    if (!n) {
      fail(error,
           "filter octet '" + std::string(text) + "' is not a number 0..255 or a [..] pattern");
      return std::nullopt;
    }
    pattern.ranges.push_back({*n, *n});
    return pattern;
  }
  if (text.size() < 2 || text.back() != ']') {
    fail(error, "filter octet '" + std::string(text) + "' lacks its closing ']'");
    return std::nullopt;
  }
  std::string_view list = text.substr(1, text.size() - 2);
  for (;;) {
    auto semi = list.find(';');
    std::string_view item = list.substr(0, semi);
    auto dots = item.find("..");
    auto low = parse_octet(item.substr(0, dots));
    auto high = dots == std::string_view::npos ? low : parse_octet(item.substr(dots + 2));
    if (!low || !high) {
      fail(error, "filter item '" + std::string(item) + "' is not a number 0..255 or a range n..m");
      return std::nullopt;
    }
    if (*low > *high) {
      fail(error, "filter range '" + std::string(item) + "' runs backwards");
      return std::nullopt;
    }
    pattern.ranges.push_back({*low, *high});
    if (semi == std::string_view::npos) break;
    list.remove_prefix(semi + 1);
  }
  return pattern;
}

}  // namespace

bool OctetPattern::matches(std::uint8_t octet) const {
  for (const auto& r : ranges)
    if (octet >= r.low && octet <= r.high) return true;
  return false;
}

bool ReplyFilter::matches(const net::IpAddress& address) const {
  if (address.v6) return false;
  for (std::size_t i = 0; i < 4; ++i)
    if (!octets[i].matches(address.bytes[i])) return false;
  return true;
}

bool Entry::listed_by(const std::vector<net::IpAddress>& addresses) const {
  for (const auto& a : addresses) {
    if (a.v6) continue;
    if (filter ? filter->matches(a) : a.bytes[0] == 127) return true;
  }
  return false;
}

bool valid_domain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::optional<ReplyFilter> parse_filter(std::string_view text, std::string* error) {
  ReplyFilter filter;
  std::size_t index = 0;
  std::size_t start = 0;
  // Dots inside [..] belong to ranges, not to the octet separators.
  bool in_brackets = false;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : '.';
    if (c == '[') {
      if (in_brackets) {
        fail(error, "filter '" + std::string(text) + "' has a '[' inside a [..] pattern");
        return std::nullopt;
      }
      in_brackets = true;
    } else if (c == ']') {
      in_brackets = false;
    }
    if (c != '.' || (in_brackets && i < text.size())) continue;
    if (index == 4) {
      fail(error, "filter '" + std::string(text) + "' has more than four octets");
      return std::nullopt;
    }
    auto pattern = parse_pattern(text.substr(start, i - start), error);
    if (!pattern) return std::nullopt;
    filter.octets[index++] = std::move(*pattern);
    start = i + 1;
  }
  if (in_brackets) {
    fail(error, "filter '" + std::string(text) + "' lacks a closing ']'");
    return std::nullopt;
  }
  if (index != 4) {
    fail(error, "filter '" + std::string(text) + "' must have four octets, d.d.d.d");
    return std::nullopt;
  }
  return filter;
}

std::optional<Entry> parse_entry(std::string_view text, std::string* error) {
  Entry entry;
  entry.text = std::string(text);
  std::string_view rest = text;

  // The weight comes last and neither zone nor filter contains '*'.
  if (auto star = rest.find('*'); star != std::string_view::npos) {
    std::string_view w = rest.substr(star + 1);
    int value = 0;
    const char* begin = w.data();
    if (!w.empty() && w.front() == '+' && (w.size() < 2 || w[1] != '-')) ++begin;
    auto [end, ec] = std::from_chars(begin, w.data() + w.size(), value);
    if (w.empty() || begin == w.data() + w.size() || ec != std::errc() ||
        end != w.data() + w.size() || value < -kMaxWeight || value > kMaxWeight) {
      fail(error, "weight '" + std::string(w) + "' must be an integer from -" +
                      std::to_string(kMaxWeight) + " to " + std::to_string(kMaxWeight));
      return std::nullopt;
    }
    entry.weight = value;
    rest = rest.substr(0, star);
  }
  if (auto eq = rest.find('='); eq != std::string_view::npos) {
    auto filter = parse_filter(rest.substr(eq + 1), error);
    if (!filter) return std::nullopt;
    entry.filter = std::move(*filter);
    rest = rest.substr(0, eq);
  }
  if (!rest.empty() && rest.back() == '.') rest.remove_suffix(1);
  if (!valid_domain(rest)) {
    fail(error, "zone '" + std::string(rest) + "' is not a DNS name");
    return std::nullopt;
  }
  entry.zone.reserve(rest.size());
  for (char c : rest)
    entry.zone.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  return entry;
}

}  // namespace mailsan::policyd::dnsbl
