#include "policyd/protocol/policy_request.hpp"

namespace mailsan::policyd {

std::string_view PolicyRequest::get(std::string_view name) const {
  const std::string_view text(text_);
  for (const auto& a : attributes_) {
    if (text.substr(a.name_begin, a.name_end - a.name_begin) == name)
      return text.substr(a.value_begin, a.value_end - a.value_begin);
  }
  return {};
}

bool PolicyRequest::has(std::string_view name) const {
  const std::string_view text(text_);
  for (const auto& a : attributes_) {
    if (text.substr(a.name_begin, a.name_end - a.name_begin) == name) return true;
  }
  return false;
}

void PolicyRequest::clear() {
  text_.clear();
  attributes_.clear();
}

void PolicyRequest::add_attribute(std::uint32_t line_begin, std::uint32_t equals,
                                  std::uint32_t line_end) {
  attributes_.push_back({line_begin, equals, equals + 1, line_end});
}

PolicyRequest PolicyRequest::from_pairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  PolicyRequest r;
  for (const auto& [name, value] : pairs) {
    auto begin = static_cast<std::uint32_t>(r.text_.size());
    r.text_ += name;
    auto equals = static_cast<std::uint32_t>(r.text_.size());
    r.text_ += '=';
    r.text_ += value;
    r.add_attribute(begin, equals, static_cast<std::uint32_t>(r.text_.size()));
    r.text_ += '\n';
  }
  return r;
}

}  // namespace mailsan::policyd
