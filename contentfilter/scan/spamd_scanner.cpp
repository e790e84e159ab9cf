#include "contentfilter/scan/spamd_scanner.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/log/log.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;

namespace {

// Rule lists are a few hundred bytes; 64 KiB is far beyond any honest one.
constexpr std::uint64_t kMaxSymbolsReply = 64 * 1024;

SpamdClientOptions client_options(const SpamdConfig& config) {
  std::string error;
  auto address = net::parse_endpoint(config.address, &error);
  if (!address) throw std::invalid_argument("spamd.address: " + error);
  SpamdClientOptions o;
  o.address = *address;
  o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout);
  if (config.mode == "process") {
    // The rewritten message is the message plus spamd's report (report_safe
    // wraps the original): twice the largest message sent and a margin.
    o.max_reply_body = 2 * static_cast<std::uint64_t>(config.max_size) + 1024 * 1024;
  } else {
    o.max_reply_body = kMaxSymbolsReply;
  }
  return o;
}

}  // namespace

std::string spamd_user_for(const Envelope& envelope, const SpamdConfig& config) {
  if (config.user == "none") return {};
  if (envelope.recipients.size() != 1 || envelope.recipients[0].address.empty())
    return config.default_user;
  const std::string& address = envelope.recipients[0].address;
  if (config.user == "address") return util::ascii_lower(address);
  auto at = address.rfind('@');
  return util::ascii_lower(at == std::string::npos ? address : address.substr(0, at));
}

SpamdScanner::SpamdScanner(asio::any_io_executor ex, const SpamdConfig& config)
    : config_(config),
      failure_mode_(config.failure_mode == "fail_closed" ? FailureMode::closed : FailureMode::open),
      unavailable_reply_(config.unavailable_reply),
      command_(config.mode == "process" ? SpamdCommand::process : SpamdCommand::symbols),
      client_(std::move(ex), client_options(config)) {}

asio::awaitable<ScanReport> SpamdScanner::scan(ScanInput input) {
  ScanReport r;
  r.scanner = "spamd";
  r.scores_spam = true;
  const std::uint64_t size = input.message.size();
  if (size > static_cast<std::uint64_t>(config_.max_size)) {
    r.skipped = true;
    r.error = "larger than max_size (" + std::to_string(size) + " > " +
              std::to_string(config_.max_size) + " bytes)";
    co_return r;
  }
  std::string user = spamd_user_for(input.envelope, config_);
  SpamdResult result = co_await client_.check(command_, input.message, std::move(user));
  if (!result.ok()) {
    // One line per failure, so "spamd is down" shows in the log and not
    // only as X-Spam-Status: unchecked on delivered mail.
    log::warning("spamd_failed").kv("address", config_.address).kv("error", result.error);
    r.error = std::move(result.error);
    co_return r;
  }
  r.completed = true;
  r.score = result.response.score;
  if (command_ == SpamdCommand::process) {
    SpamdProcessedHead head = parse_spamd_processed_head(result.response.body);
    r.rules = std::move(head.rules);
    r.headers = std::move(head.headers);
  } else {
    r.rules = std::move(result.response.rules);
  }
  co_return r;
}

}  // namespace mailsan::filter
