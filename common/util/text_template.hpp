// Reply and header texts are configurable with ${name} placeholders
// ("Greylisted, retry in ${seconds} seconds"). Unknown names are kept as
// written so a typo shows in the reply instead of vanishing.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace mailsan::util {

using TemplateValues = std::initializer_list<std::pair<std::string_view, std::string_view>>;

inline std::string expand_template(std::string_view text, TemplateValues values) {
  std::string out;
  out.reserve(text.size() + 32);
  std::size_t i = 0;
  while (i < text.size()) {
    auto start = text.find("${", i);
    if (start == std::string_view::npos) break;
    auto end = text.find('}', start + 2);
    if (end == std::string_view::npos) break;
    out.append(text.substr(i, start - i));
    std::string_view name = text.substr(start + 2, end - start - 2);
    bool found = false;
    for (const auto& [key, value] : values) {
      if (key == name) {
        out.append(value);
        found = true;
        break;
      }
    }
    if (!found) out.append(text.substr(start, end - start + 1));
    i = end + 1;
  }
  out.append(text.substr(i));
  return out;
}

}  // namespace mailsan::util
