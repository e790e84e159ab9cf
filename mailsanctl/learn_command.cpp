#include "mailsanctl/learn_command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/net/endpoint_address.hpp"
#include "contentfilter/bulk/bulk_digest.hpp"
#include "contentfilter/bulk/bulk_scanner.hpp"
#include "contentfilter/spamd/spamd_client.hpp"
#include "contentfilter/spool/message_spool.hpp"
#include "mailsanctl/redis_sync.hpp"

namespace mailsan::ctl {
namespace {

namespace asio = boost::asio;

// A saved message usually has "\n" line ends; the filter's checksums are
// taken over the message as SMTP carried it, with CRLF.
std::string with_crlf(const std::string& in) {
  std::string out;
  out.reserve(in.size() + in.size() / 40);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
    out.push_back(in[i]);
  }
  return out;
}

}  // namespace

int run_learn_command(CommandContext& ctx) {
  if (ctx.args.size() != 2 || (ctx.args[0] != "spam" && ctx.args[0] != "ham")) {
    ctx.err << "usage: mailsanctl " << kLearnUsage << "\n";
    return kExitUsage;
  }
  const bool spam = ctx.args[0] == "spam";
  const std::string& path = ctx.args[1];
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ctx.err << "mailsanctl: learn: cannot read " << printable(path) << "\n";
    return kExitFailed;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  filter::FilterConfig config;
  if (!load_filter_config(ctx, config)) return kExitUsage;
  const std::string message =
      with_crlf(buf.str().substr(0, static_cast<std::size_t>(config.bulk.max_bytes)));

  int failures = 0;
  std::vector<std::string> digests = filter::bulk_digests(message);
  std::string error;
  auto redis = SyncRedis::connect(redis_settings(config), &error);
  if (!redis) {
    ctx.err << "mailsanctl: learn: Redis " << config.redis << ": " << error << "\n";
    ++failures;
  } else {
    const std::string ttl = std::to_string(config.bulk.ttl.count());
    for (const auto& d : digests) {
      filter::BulkKeys keys = filter::bulk_keys(config.redis_prefix, d);
      std::optional<redis::Reply> r;
      if (spam) {
        r = redis->command({"SET", keys.marked, "1", "EX", ttl});
      } else {
        r = redis->command({"DEL", keys.marked, keys.recipients});
      }
      if (!r || r->is_error()) {
        ctx.err << "mailsanctl: learn: " << (r ? r->str : redis->error()) << "\n";
        ++failures;
        break;
      }
    }
    ctx.out << (spam ? "marked " : "cleared ") << digests.size() << " checksums as "
            << (spam ? "bulk spam" : "ham") << " for every MX\n";
  }

  if (config.spamd.enable) {
    filter::SpamdClientOptions options;
    auto address = net::parse_endpoint(config.spamd.address);
    if (!address) {
      ctx.err << "mailsanctl: learn: spamd.address is not an endpoint\n";
      return kExitUsage;
    }
    options.address = *address;
    options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.spamd.timeout);
    filter::MessageSpool spool(message.size() + 1, std::filesystem::temp_directory_path());
    if (auto ec = spool.append(message)) {
      ctx.err << "mailsanctl: learn: " << ec.message() << "\n";
      return kExitFailed;
    }
    asio::io_context io;
    filter::SpamdClient client(io.get_executor(), options);
    filter::SpamdTell tell;
    tell.message_class = spam ? filter::SpamdMessageClass::spam : filter::SpamdMessageClass::ham;
    filter::SpamdResult result;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto telling = client.tell(tell, spool, config.spamd.default_user);
          result = co_await std::move(telling);
        },
        asio::detached);
    io.run();
    if (!result.ok()) {
      ctx.err << "mailsanctl: learn: spamd: " << printable(result.error) << "\n";
      ++failures;
    } else {
      ctx.out << "told spamd (" << config.spamd.address << ") it is " << ctx.args[0] << "\n";
    }
  }
  return failures == 0 ? kExitOk : kExitFailed;
}

}  // namespace mailsan::ctl
