#include "common/config/values.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <stdexcept>

namespace mailsan::config {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

// Digits only (no sign): durations and sizes are never negative, and a '-'
// there is far more likely a typo than an intent.
bool parse_unsigned_digits(std::string_view digits, std::int64_t* out) {
  if (digits.empty()) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  if (ec == std::errc::result_out_of_range)
    throw std::invalid_argument(quoted(digits) + " is too large");
  return ec == std::errc{} && ptr == digits.data() + digits.size();
}

std::int64_t scaled(std::int64_t value, std::int64_t unit, std::string_view text) {
  if (value > std::numeric_limits<std::int64_t>::max() / unit)
    throw std::invalid_argument(quoted(text) + " is too large");
  return value * unit;
}

struct Unit {
  char suffix;
  std::int64_t factor;
};
constexpr Unit kDurationUnits[] = {{'w', 604800}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
constexpr Unit kSizeUnits[] = {{'g', 1024 * 1024 * 1024}, {'m', 1024 * 1024}, {'k', 1024}};

}  // namespace

std::string_view trim(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

std::int64_t parse_integer(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) digits.remove_prefix(1);
  bool all_digits = !digits.empty();
  for (char c : digits) all_digits = all_digits && c >= '0' && c <= '9';
  if (!all_digits) throw std::invalid_argument(quoted(text) + " is not an integer");
  // from_chars rejects a leading '+', so parse the magnitude with the sign in front.
  std::string normalized(text.front() == '+' ? text.substr(1) : text);
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(normalized.data(), normalized.data() + normalized.size(), value);
  if (ec == std::errc::result_out_of_range)
    throw std::invalid_argument(quoted(text) + " is too large");
  if (ec != std::errc{} || ptr != normalized.data() + normalized.size())
    throw std::invalid_argument(quoted(text) + " is not an integer");
  return value;
}

double parse_number(std::string_view text) {
  std::string_view rest = text;
  if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) rest.remove_prefix(1);
  auto point = rest.find('.');
  std::string_view whole = rest.substr(0, point);
  std::string_view fraction = point == std::string_view::npos ? "" : rest.substr(point + 1);
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || (point != std::string_view::npos && !digits(fraction)) || whole.size() > 12)
    throw std::invalid_argument(quoted(text) + " is not a number");
  std::string normalized(text.front() == '+' ? text.substr(1) : text);
  double value = 0;
  auto [ptr, ec] = std::from_chars(normalized.data(), normalized.data() + normalized.size(), value);
  if (ec != std::errc{} || ptr != normalized.data() + normalized.size())
    throw std::invalid_argument(quoted(text) + " is not a number");
  return value;
}

std::string format_number(double value) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc{} ? std::string(buf, ptr) : std::to_string(value);
}

bool parse_bool(std::string_view text) {
  for (std::string_view yes : {"yes", "true", "on", "1"})
    if (equals_ignoring_case(text, yes)) return true;
  for (std::string_view no : {"no", "false", "off", "0"})
    if (equals_ignoring_case(text, no)) return false;
  throw std::invalid_argument(quoted(text) + " is not a boolean (use yes or no)");
}

// A number with an optional one-letter unit suffix from `units`; throws
// with `what` naming the expected form.
template <typename Units>
std::int64_t parse_with_unit(std::string_view text, const Units& units, const char* what) {
  std::string_view digits = text;
  std::int64_t unit = 1;
  if (!digits.empty()) {
    char last = lower(digits.back());
    for (const Unit& u : units) {
      if (last == u.suffix) {
        unit = u.factor;
        digits.remove_suffix(1);
        break;
      }
    }
  }
  std::int64_t value = 0;
  if (!parse_unsigned_digits(digits, &value)) throw std::invalid_argument(quoted(text) + what);
  return scaled(value, unit, text);
}

std::chrono::seconds parse_duration(std::string_view text) {
  return std::chrono::seconds(
      parse_with_unit(text, kDurationUnits,
                      " is not a duration (seconds, or a number with suffix s, m, h, d or w)"));
}

std::int64_t parse_size(std::string_view text) {
  return parse_with_unit(text, kSizeUnits,
                         " is not a size (bytes, or a number with suffix k, m or g)");
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  std::size_t pos = 0;
  constexpr std::string_view separators = ", \t\r\n";
  while (pos < text.size()) {
    auto start = text.find_first_not_of(separators, pos);
    if (start == std::string_view::npos) break;
    auto end = text.find_first_of(separators, start);
    if (end == std::string_view::npos) end = text.size();
    items.emplace_back(text.substr(start, end - start));
    pos = end;
  }
  return items;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string format_duration(std::chrono::seconds value) {
  std::int64_t s = value.count();
  if (s == 0) return "0s";
  for (const Unit& u : kDurationUnits)
    if (s % u.factor == 0) return std::to_string(s / u.factor) + u.suffix;
  return std::to_string(s) + "s";
}

std::string format_size(std::int64_t bytes) {
  if (bytes != 0)
    for (const Unit& u : kSizeUnits)
      if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + u.suffix;
  return std::to_string(bytes);
}

}  // namespace mailsan::config
