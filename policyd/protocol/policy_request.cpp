#include "policyd/protocol/policy_request.hpp"

#include <iterator>

namespace mailsan::policyd {
namespace {

// In the order of PolicyRequest::Known.
constexpr std::string_view kKnownNames[] = {
    "request",   "protocol_state", "client_address", "client_name",   "helo_name",        "sender",
    "recipient", "instance",       "queue_id",       "sasl_username", "ccert_fingerprint"};
static_assert(std::size(kKnownNames) == static_cast<std::size_t>(PolicyRequest::Known::count));

// Postfix sends ~30 attributes and a request may carry up to 1000; typical
// requests then need no reallocation while parsing.
constexpr std::size_t kTypicalAttributes = 48;
constexpr std::size_t kTypicalBytes = 2048;

}  // namespace

std::string_view PolicyRequest::get(Known attribute) const {
  const std::int16_t i = known_[static_cast<std::size_t>(attribute)];
  if (i < 0) return {};
  const Attribute& a = attributes_[static_cast<std::size_t>(i)];
  return std::string_view(text_).substr(a.value_begin, a.value_end - a.value_begin);
}

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
  known_ = filled(-1);
}

void PolicyRequest::append_bytes(std::string_view bytes) {
  if (text_.capacity() < kTypicalBytes) text_.reserve(kTypicalBytes);
  text_.append(bytes);
}

void PolicyRequest::add_attribute(std::uint32_t line_begin, std::uint32_t equals,
                                  std::uint32_t line_end) {
  if (attributes_.capacity() < kTypicalAttributes) attributes_.reserve(kTypicalAttributes);
  const std::string_view name = std::string_view(text_).substr(line_begin, equals - line_begin);
  for (std::size_t k = 0; k < std::size(kKnownNames); ++k) {
    // The first occurrence wins, as for get(name).
    if (known_[k] < 0 && kKnownNames[k] == name) {
      known_[k] = static_cast<std::int16_t>(attributes_.size());
      break;
    }
  }
  attributes_.push_back({line_begin, equals, equals + 1, line_end});
}

PolicyRequest PolicyRequest::from_pairs(
    const std::vector<std::pair<std::string, std::string>>& pairs) {
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
