// Quarantine records as JSON and quarantine ids (see quarantine_record.hpp).
#include "contentfilter/quarantine/quarantine_record.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

namespace mailsan::filter {
namespace {

using nlohmann::json;

// 9999-12-31T23:59:59Z: the last second an id's four-digit year can hold.
constexpr std::int64_t kLastIdSecond = 253402300799;

json string_array(const std::vector<std::string>& values) {
  json out = json::array();
  for (const auto& v : values) out.push_back(v);
  return out;
}

// Each reader takes the member `name` of object `o` into *out, and returns
// false when it is missing or has another type.

bool read_string(const json& o, const char* name, std::string* out) {
  auto it = o.find(name);
  if (it == o.end() || !it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

bool read_string_array(const json& a, std::vector<std::string>* out) {
  if (!a.is_array()) return false;
  out->clear();
  for (const auto& v : a) {
    if (!v.is_string()) return false;
    out->push_back(v.get<std::string>());
  }
  return true;
}

bool read_string_array(const json& o, const char* name, std::vector<std::string>* out) {
  auto it = o.find(name);
  return it != o.end() && read_string_array(*it, out);
}

bool read_int64(const json& o, const char* name, std::int64_t* out) {
  auto it = o.find(name);
  if (it == o.end()) return false;
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    *out = static_cast<std::int64_t>(v);
    return true;
  }
  if (!it->is_number_integer()) return false;
  *out = it->get<std::int64_t>();
  return true;
}

bool read_uint64(const json& o, const char* name, std::uint64_t* out) {
  auto it = o.find(name);
  // The parser stores every non-negative integer as unsigned, so a negative
  // size or a fraction fails here.
  if (it == o.end() || !it->is_number_unsigned()) return false;
  *out = it->get<std::uint64_t>();
  return true;
}

bool read_recipients(const json& o, std::vector<QuarantineRecord::Recipient>* out) {
  auto it = o.find("recipients");
  if (it == o.end() || !it->is_array()) return false;
  for (const auto& r : *it) {
    if (!r.is_object()) return false;
    QuarantineRecord::Recipient recipient;
    if (!read_string(r, "address", &recipient.address) ||
        !read_string_array(r, "parameters", &recipient.parameters))
      return false;
    out->push_back(std::move(recipient));
  }
  return true;
}

bool read_xforward(const json& o, std::vector<std::pair<std::string, std::string>>* out) {
  auto it = o.find("xforward");
  if (it == o.end() || !it->is_array()) return false;
  for (const auto& a : *it) {
    if (!a.is_object()) return false;
    std::pair<std::string, std::string> attribute;
    if (!read_string(a, "name", &attribute.first) || !read_string(a, "value", &attribute.second))
      return false;
    out->push_back(std::move(attribute));
  }
  return true;
}

std::optional<QuarantineRecord> decode(std::string_view text) {
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;  // also a parse error (discarded)
  QuarantineRecord r;
  bool ok = read_string(j, "id", &r.id) && read_string(j, "hostname", &r.hostname) &&
            read_int64(j, "time", &r.time) && read_string(j, "sender", &r.sender) &&
            read_string_array(j, "sender_parameters", &r.sender_parameters) &&
            read_recipients(j, &r.recipients) && read_string(j, "helo", &r.helo) &&
            read_xforward(j, &r.xforward) && read_string(j, "reason", &r.reason) &&
            read_string(j, "report", &r.report) && read_uint64(j, "size", &r.size);
  if (!ok || !valid_quarantine_id(r.id)) return std::nullopt;
  return r;
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_lower_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}

}  // namespace

std::string encode_quarantine_record(const QuarantineRecord& r) {
  json recipients = json::array();
  for (const auto& rcpt : r.recipients)
    recipients.push_back(
        {{"address", rcpt.address}, {"parameters", string_array(rcpt.parameters)}});
  json xforward = json::array();
  for (const auto& [name, value] : r.xforward)
    xforward.push_back({{"name", name}, {"value", value}});
  json j = {{"id", r.id},
            {"hostname", r.hostname},
            {"time", r.time},
            {"sender", r.sender},
            {"sender_parameters", string_array(r.sender_parameters)},
            {"recipients", std::move(recipients)},
            {"helo", r.helo},
            {"xforward", std::move(xforward)},
            {"reason", r.reason},
            {"report", r.report},
            {"size", r.size}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<QuarantineRecord> decode_quarantine_record(std::string_view text) {
  try {
    return decode(text);
  } catch (...) {
    // Only allocation failure can get here (the parser reports syntax
    // errors as a discarded value); the record is then simply unreadable.
    return std::nullopt;
  }
}

std::string new_quarantine_id(std::int64_t unix_time) {
  std::random_device random;
  std::uint64_t bits = (static_cast<std::uint64_t>(random()) << 32) ^ random();
  return new_quarantine_id(unix_time, bits);
}

std::string new_quarantine_id(std::int64_t unix_time, std::uint64_t random_bits) {
  using namespace std::chrono;
  const std::int64_t t = std::clamp<std::int64_t>(unix_time, 0, kLastIdSecond);
  const sys_seconds at{seconds(t)};
  const sys_days day = floor<days>(at);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> hms{at - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02d-%016llx", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()),
                static_cast<unsigned long long>(random_bits));
  return buf;
}

bool valid_quarantine_id(std::string_view id) {
  // YYYYMMDD T HHMMSS - 16 hex
  if (id.size() != 32) return false;
  return all_of(id.substr(0, 8), is_digit) && id[8] == 'T' && all_of(id.substr(9, 6), is_digit) &&
         id[15] == '-' && all_of(id.substr(16), is_lower_hex);
}

}  // namespace mailsan::filter
