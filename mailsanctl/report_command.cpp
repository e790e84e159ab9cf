#include "mailsanctl/report_command.hpp"

#include <cstdio>
#include <ctime>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/stats/daily_counters.hpp"
#include "common/stats/report_rows.hpp"
#include "common/util/ascii.hpp"
#include "mailsanctl/redis_sync.hpp"

namespace mailsan::ctl {
namespace {

std::int64_t value(const std::map<std::string, std::int64_t>& c, std::string_view counter) {
  if (counter.empty()) return 0;
  auto it = c.find(std::string(counter));
  return it == c.end() ? 0 : it->second;
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
  const auto& rows = stats::kReportRows;
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    const stats::ReportRow& r = rows[i];
    std::int64_t sum = value(c, r.counter);
    while (i + 1 < std::size(rows) && rows[i + 1].group == r.group && rows[i + 1].label == r.label)
      sum += value(c, rows[++i].counter);
    const bool first_of_group = &r == &rows[0] || (&r - 1)->group != r.group;
    const std::string group(first_of_group ? r.group : "");
    const std::string label(r.label);
    char line[128];
    std::snprintf(line, sizeof line, "%-11s %-24s %8lld\n", group.c_str(), label.c_str(),
                  static_cast<long long>(sum));
    out += line;
  }
  return out;
}

std::string format_report_json(const std::string& day,
                               const std::map<std::string, std::int64_t>& c) {
  nlohmann::json j;
  j["day"] = day;
  for (const stats::ReportRow& r : stats::kReportRows) {
    const std::string group = util::ascii_lower(r.group);
    if (r.json_key.empty())
      j[group] = value(c, r.counter);
    else
      j[group][std::string(r.json_key)] = value(c, r.counter);
  }
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
