#include "policyd/callout/callout_result.hpp"

#include <nlohmann/json.hpp>

namespace mailsan::policyd {

std::string_view to_string(CalloutResult::Verdict verdict) {
  switch (verdict) {
    case CalloutResult::Verdict::valid:
      return "valid";
    case CalloutResult::Verdict::invalid:
      return "invalid";
    case CalloutResult::Verdict::unknown:
      break;
  }
  return "unknown";
}

std::string callout_text_safe(std::string_view text, std::size_t max_length) {
  std::string out;
  out.reserve(std::min(text.size(), max_length));
  for (char c : text) {
    if (out.size() == max_length) break;
    if (c == '"')
      out.push_back('\'');
    else
      out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string encode_callout_result(std::string_view address, const CalloutResult& result) {
  nlohmann::json j = {
      {"address", address},
      {"verdict", to_string(result.verdict)},
      {"preference", result.mx_preference},
      {"mx", result.mx_host},
      {"ip", result.mx_ip},
      {"reply", result.reply},
      {"reason", result.reason},
  };
  // Invalid UTF-8 (an address is untrusted) is replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<CalloutResult> decode_callout_result(std::string_view value) {
  nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto verdict = text("verdict");
  auto mx = text("mx");
  auto ip = text("ip");
  auto reply = text("reply");
  auto reason = text("reason");
  auto pref = j.find("preference");
  if (!verdict || !mx || !ip || !reply || !reason || pref == j.end() || !pref->is_number_integer())
    return std::nullopt;
  CalloutResult r;
  if (*verdict == "valid")
    r.verdict = CalloutResult::Verdict::valid;
  else if (*verdict == "invalid")
    r.verdict = CalloutResult::Verdict::invalid;
  else if (*verdict == "unknown")
    r.verdict = CalloutResult::Verdict::unknown;
  else
    return std::nullopt;
  std::int64_t p = pref->get<std::int64_t>();
  if (p < 0 || p > 65535) return std::nullopt;
  r.mx_preference = static_cast<int>(p);
  r.mx_host = callout_text_safe(*mx, 255);
  r.mx_ip = callout_text_safe(*ip, 64);
  r.reply = callout_text_safe(*reply);
  r.reason = callout_text_safe(*reason, 64);
  return r;
}

}  // namespace mailsan::policyd
