// ASCII case handling for protocol text (addresses, host names, attribute
// names): locale-independent and cheap, unlike std::tolower.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace mailsan::util {

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

inline bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

constexpr bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace mailsan::util
