#include "mailsanctl/greylist_command.hpp"

#include <sys/stat.h>

#include <ctime>

#include "common/config/option_table.hpp"
#include "common/net/cidr.hpp"
#include "mailsanctl/redis_sync.hpp"
#include "policyd/greylist/greylist_check.hpp"
#include "policyd/policyd_config.hpp"

namespace mailsan::ctl {
namespace {

bool load_policyd_config(CommandContext& ctx, const std::string& path,
                         policyd::PolicydConfig& config, bool given) {
  auto table = policyd::make_option_table(config);
  struct stat st {};
  if (!given && ::stat(path.c_str(), &st) != 0) return true;  // the defaults, as the daemon
  try {
    config::load_file(table, path);
  } catch (const std::exception& e) {
    ctx.err << "mailsanctl: " << e.what() << "\n";
    return false;
  }
  return true;
}

std::string field_time(const redis::Reply& hash, std::string_view field) {
  for (std::size_t i = 0; i + 1 < hash.elements.size(); i += 2)
    if (hash.elements[i].str == field) {
      try {
        return iso_time(std::stoll(hash.elements[i + 1].str));
      } catch (const std::exception&) {
        return printable(hash.elements[i + 1].str);
      }
    }
  return "-";
}

std::string field_text(const redis::Reply& hash, std::string_view field) {
  for (std::size_t i = 0; i + 1 < hash.elements.size(); i += 2)
    if (hash.elements[i].str == field) return printable(hash.elements[i + 1].str);
  return "-";
}

}  // namespace

int run_greylist_command(CommandContext& ctx) {
  std::string policyd_path = policyd::kDefaultConfigPath;
  bool given = false;
  std::vector<std::string> args;
  for (std::size_t i = 0; i < ctx.args.size(); ++i) {
    if (ctx.args[i] == "--policyd-config" && i + 1 < ctx.args.size()) {
      policyd_path = ctx.args[++i];
      given = true;
    } else {
      args.push_back(ctx.args[i]);
    }
  }
  const bool show = args.size() == 4 && args[0] == "show";
  const bool whitelist = args.size() == 2 && args[0] == "whitelist";
  if (!show && !whitelist) {
    ctx.err << "usage: mailsanctl " << kGreylistUsage << "\n";
    return kExitUsage;
  }
  auto client = net::IpAddress::parse(args[1]);
  if (!client) {
    ctx.err << "mailsanctl: greylist: '" << printable(args[1]) << "' is not an IP address\n";
    return kExitUsage;
  }
  policyd::PolicydConfig pc;
  if (!load_policyd_config(ctx, policyd_path, pc, given)) return kExitUsage;
  const auto& g = pc.greylist;
  policyd::GreylistKeys keys = policyd::greylist_keys(
      pc.redis_prefix, *client, show ? args[2] : std::string(), show ? args[3] : std::string(),
      static_cast<unsigned>(g.ipv4_prefix), static_cast<unsigned>(g.ipv6_prefix));

  std::string error;
  auto redis = SyncRedis::connect(redis_settings(pc), &error);
  if (!redis) {
    ctx.err << "mailsanctl: greylist: Redis " << pc.redis << ": " << error << "\n";
    return kExitFailed;
  }
  if (whitelist) {
    std::string passes = std::to_string(std::max<std::int64_t>(g.auto_whitelist, 1));
    std::string now = std::to_string(std::time(nullptr));
    std::string ttl = std::to_string(g.max_age.count());
    auto set = redis->command({"HSET", keys.network, "n", passes, "l", now});
    auto expire = redis->command({"EXPIRE", keys.network, ttl});
    if (!set || !expire || set->is_error() || expire->is_error()) {
      ctx.err << "mailsanctl: greylist: " << (set && set->is_error() ? set->str : redis->error())
              << "\n";
      return kExitFailed;
    }
    ctx.out << "client network of " << client->to_string() << " (" << keys.network
            << ") skips greylisting for " << g.max_age.count() << " s\n";
    return kExitOk;
  }
  auto triplet = redis->command({"HGETALL", keys.triplet});
  auto triplet_ttl = redis->command({"TTL", keys.triplet});
  auto awl = redis->command({"HGETALL", keys.network});
  if (!triplet || !triplet_ttl || !awl) {
    ctx.err << "mailsanctl: greylist: " << redis->error() << "\n";
    return kExitFailed;
  }
  ctx.out << "triplet      " << keys.triplet << "\n";
  if (triplet->elements.empty()) {
    ctx.out << "  not seen (a first attempt is deferred for " << g.delay.count() << " s)\n";
  } else {
    ctx.out << "  first attempt  " << field_time(*triplet, "f") << "\n"
            << "  last pass      " << field_time(*triplet, "p") << "\n"
            << "  expires in     " << triplet_ttl->integer << " s\n";
  }
  ctx.out << "network      " << keys.network << "\n";
  if (awl->elements.empty())
    ctx.out << "  no passes counted\n";
  else
    ctx.out << "  passes " << field_text(*awl, "n") << " of " << g.auto_whitelist
            << " for the auto-whitelist, last counted " << field_time(*awl, "l") << "\n";
  return kExitOk;
}

}  // namespace mailsan::ctl
