#include "mailsanctl/report_command.hpp"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/stats/daily_counters.hpp"
#include "mailsanctl/redis_sync.hpp"

namespace mailsan::ctl {
namespace {

struct Row {
  const char* group;  // printed on the group's first row only
  const char* label;
  const char* field;  // empty: a row nothing counts (see "Bounced")
};

// The seed's rows, and the counter each reads. "Bounced" has no counter:
// mailsan refuses mail during the SMTP conversation and never makes a
// bounce, so the row is 0 by design, as in the seed's table.
constexpr Row kRows[] = {
    {"Rejected", "User unknown", "user_unknown"},
    {"", "Sender verify (perm)", "sender_verify"},
    {"", "Greylisted (tempfail)", "greylisted"},
    {"", "SPF fail / DNSBL", "spf_fail+dnsbl"},
    {"", "Spam", "spam"},
    {"", "Virus", "virus"},
    {"Bounced", "", ""},
    {"Delivered", "Spam (tagged)", "delivered_spam"},
    {"", "Ham", "delivered_ham"},
    {"Quarantined", "", "quarantined"},
};

std::int64_t value(const std::map<std::string, std::int64_t>& c, std::string_view field) {
  std::int64_t sum = 0;
  std::size_t start = 0;
  while (start <= field.size() && !field.empty()) {
    auto plus = field.find('+', start);
    auto name =
        std::string(field.substr(start, plus == std::string_view::npos ? plus : plus - start));
    if (auto it = c.find(name); it != c.end()) sum += it->second;
    if (plus == std::string_view::npos) break;
    start = plus + 1;
  }
  return sum;
}

bool valid_day(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
    if (d[i] < '0' || d[i] > '9') return false;
  return true;
}

}  // namespace

std::string format_report(const std::string& day, const std::map<std::string, std::int64_t>& c) {
  std::string out = "mailsan report for " + day + " (every MX)\n";
  for (const Row& r : kRows) {
    char line[128];
    std::snprintf(line, sizeof line, "%-11s %-24s %8lld\n", r.group, r.label,
                  static_cast<long long>(value(c, r.field)));
    out += line;
  }
  return out;
}

std::string format_report_json(const std::string& day,
                               const std::map<std::string, std::int64_t>& c) {
  nlohmann::json j;
  j["day"] = day;
  j["rejected"] = {{"user_unknown", value(c, "user_unknown")},
                   {"sender_verify", value(c, "sender_verify")},
                   {"greylisted", value(c, "greylisted")},
                   {"spf_fail", value(c, "spf_fail")},
                   {"dnsbl", value(c, "dnsbl")},
                   {"spam", value(c, "spam")},
                   {"virus", value(c, "virus")}};
  j["bounced"] = 0;
  j["delivered"] = {{"spam_tagged", value(c, "delivered_spam")},
                    {"ham", value(c, "delivered_ham")}};
  j["quarantined"] = value(c, "quarantined");
  j["counters"] = c;
  return j.dump(2) + "\n";
}

int run_report_command(CommandContext& ctx) {
  std::string day = stats::day_of(std::time(nullptr));
  bool json = false;
  for (std::size_t i = 0; i < ctx.args.size(); ++i) {
    const std::string& a = ctx.args[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--day" && i + 1 < ctx.args.size()) {
      day = ctx.args[++i];
    } else if (a.rfind("--day=", 0) == 0) {
      day = a.substr(6);
    } else {
      ctx.err << "mailsanctl: report: unexpected '" << printable(a) << "'\nusage: mailsanctl "
              << kReportUsage << "\n";
      return kExitUsage;
    }
  }
  if (!valid_day(day)) {
    ctx.err << "mailsanctl: report: --day wants YYYY-MM-DD, not '" << printable(day) << "'\n";
    return kExitUsage;
  }
  filter::FilterConfig config;
  if (!load_filter_config(ctx, config)) return kExitUsage;
  std::string error;
  auto redis = SyncRedis::connect(redis_settings(config), &error);
  if (!redis) {
    ctx.err << "mailsanctl: report: Redis " << config.redis << ": " << error << "\n";
    return kExitFailed;
  }
  const std::string key = stats::day_key(config.redis_prefix, day);
  auto reply = redis->command({"HGETALL", key});
  if (!reply || reply->is_error()) {
    ctx.err << "mailsanctl: report: HGETALL " << key << ": "
            << (reply ? reply->str : redis->error()) << "\n";
    return kExitFailed;
  }
  std::map<std::string, std::int64_t> counters;
  for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    const std::string& field = reply->elements[i].str;
    try {
      counters[printable(field)] = std::stoll(reply->elements[i + 1].str);
    } catch (const std::exception&) {
      ctx.err << "mailsanctl: warning: " << key << " " << printable(field) << " is not a number\n";
    }
  }
  ctx.out << (json ? format_report_json(day, counters) : format_report(day, counters));
  return kExitOk;
}

}  // namespace mailsan::ctl
