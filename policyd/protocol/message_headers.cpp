#include "policyd/protocol/message_headers.hpp"

#include <algorithm>

#include "common/util/ascii.hpp"

namespace mailsan::policyd {

void MessageHeaders::begin(std::string_view instance) {
  if (instance == instance_ && !instance.empty()) return;
  instance_ = std::string(instance);
  due_.clear();
  names_.clear();
}

std::string_view MessageHeaders::name_of(std::string_view header) {
  return header.substr(0, header.find(':'));
}

void MessageHeaders::add(std::string header) {
  std::string_view name = name_of(header);
  auto same = [&](const std::string& n) { return util::iequals(n, name); };
  if (std::any_of(names_.begin(), names_.end(), same)) return;
  names_.emplace_back(name);
  due_.push_back(std::move(header));
}

std::string MessageHeaders::next() {
  if (due_.empty()) return {};
  std::string h = std::move(due_.front());
  due_.erase(due_.begin());
  return h;
}

}  // namespace mailsan::policyd
