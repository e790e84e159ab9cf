#include "policyd/greylist/sender_normalizer.hpp"

#include <cctype>
#include <vector>

#include "common/util/ascii.hpp"

namespace mailsan::policyd {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

// "HHH=TT=domain=local" (the part of an SRS address after the forwarder data)
// into local@domain. The original local part may itself contain '='.
bool unwrap_srs_tail(std::string_view tail, std::string* local, std::string* domain) {
  auto parts = split(tail, '=');
  if (parts.size() < 4 || parts[2].empty()) return false;
  std::string_view rest = tail;
  for (int i = 0; i < 3; ++i) rest.remove_prefix(parts[static_cast<std::size_t>(i)].size() + 1);
  if (rest.empty()) return false;
  *domain = std::string(parts[2]);
  *local = std::string(rest);
  return true;
}

// SRS0=HHH=TT=domain=local@forwarder, SRS1=HHH=forwarder==HHH=TT=domain=local@...
// The separator after SRS0/SRS1 may be '=', '-' or '+'.
bool unwrap_srs(std::string* local, std::string* domain) {
  if (local->size() < 5 || local->compare(0, 3, "srs") != 0) return false;
  char kind = (*local)[3];
  char sep = (*local)[4];
  if ((kind != '0' && kind != '1') || (sep != '=' && sep != '-' && sep != '+')) return false;
  std::string_view body = std::string_view(*local).substr(5);
  if (kind == '0') return unwrap_srs_tail(body, local, domain);
  auto double_eq = body.find("==");
  if (double_eq == std::string_view::npos) return false;
  std::string new_local, new_domain;
  if (!unwrap_srs_tail(body.substr(double_eq + 2), &new_local, &new_domain)) return false;
  *local = std::move(new_local);
  *domain = std::move(new_domain);
  return true;
}

bool is_batv_tag(std::string_view s) {
  if (s.size() != 10) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// prvs=TAG=local (the BATV draft) and the reversed prvs=local=TAG seen in the wild.
void strip_batv(std::string* local) {
  if (local->compare(0, 5, "prvs=") != 0) return;
  std::string_view body = std::string_view(*local).substr(5);
  auto eq = body.find('=');
  if (eq == std::string_view::npos) return;
  std::string_view first = body.substr(0, eq), second = body.substr(eq + 1);
  *local = std::string(is_batv_tag(first) || !is_batv_tag(second) ? second : first);
}

}  // namespace

std::string normalize_sender(std::string_view sender) {
  if (sender.empty()) return {};
  std::string address = util::ascii_lower(sender);
  auto at = address.rfind('@');
  std::string local = at == std::string::npos ? address : address.substr(0, at);
  std::string domain = at == std::string::npos ? std::string() : address.substr(at + 1);

  unwrap_srs(&local, &domain);
  strip_batv(&local);
  if (auto plus = local.find('+'); plus != std::string::npos && plus > 0) local.resize(plus);

  std::string out;
  out.reserve(local.size() + domain.size() + 1);
  for (std::size_t i = 0; i < local.size(); ++i) {
    if (util::is_ascii_digit(local[i])) {
      if (i == 0 || !util::is_ascii_digit(local[i - 1])) out += '#';
    } else {
      out += local[i];
    }
  }
  if (!domain.empty() || at != std::string::npos) {
    out += '@';
    out += domain;
  }
  return out;
}

}  // namespace mailsan::policyd
