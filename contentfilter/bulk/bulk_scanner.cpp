#include "contentfilter/bulk/bulk_scanner.hpp"

#include <algorithm>

#include "common/util/ascii.hpp"
#include "common/util/sha1.hpp"
#include "contentfilter/bulk/bulk_digest.hpp"
#include "contentfilter/scan/marker_scanner.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;

const char* const kBulkScript = R"lua(
-- KEYS[1] the checksum's recipient set, KEYS[2] its "marked bulk" flag
-- ARGV[1] count this message (1/0), ARGV[2] mark it (1/0), ARGV[3] ttl,
-- ARGV[4] cap on the set's size, ARGV[5..] hashed recipients
local ttl = tonumber(ARGV[3])
if ARGV[2] == '1' then redis.call('SET', KEYS[2], '1', 'EX', ttl) end
if ARGV[1] == '1' and #ARGV >= 5 then
  -- Past the cap the answer is "bulk" anyway; the set stops growing.
  if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[4]) then
    redis.call('SADD', KEYS[1], unpack(ARGV, 5))
  end
  redis.call('EXPIRE', KEYS[1], ttl)
end
return {redis.call('SCARD', KEYS[1]), redis.call('EXISTS', KEYS[2])}
)lua";

BulkKeys bulk_keys(std::string_view prefix, std::string_view digest) {
  // The digest is ours (kind:hex), never raw message text.
  const std::string tag = "{" + std::string(digest) + "}";
  BulkKeys k;
  k.recipients.append(prefix).append("bulk:").append(tag);
  k.marked.append(prefix).append("bulk-marked:").append(tag);
  return k;
}

namespace {

bool sender_matches(const std::vector<std::string>& entries, std::string_view sender) {
  const std::string s = util::ascii_lower(sender);
  auto at = s.rfind('@');
  const std::string domain = at == std::string::npos ? std::string() : s.substr(at + 1);
  for (const auto& raw : entries) {
    std::string e = util::ascii_lower(raw);
    if (e.empty()) continue;
    if (e.front() == '.') {
      if (domain.size() > e.size() && util::iends_with(domain, e)) return true;
    } else if (e.front() == '@') {
      if (domain == e.substr(1)) return true;
    } else if (e.find('@') != std::string::npos) {
      if (s == e) return true;
    } else if (domain == e) {
      return true;
    }
  }
  return false;
}

}  // namespace

BulkScanner::BulkScanner(redis::Client& redis, std::string prefix, BulkConfig config)
    : redis_(redis),
      prefix_(std::move(prefix)),
      config_(std::move(config)),
      script_(std::make_shared<redis::Script>(kBulkScript)) {
  for (const auto& t : config_.spam_traps) traps_.push_back(util::ascii_lower(t));
  redis_.register_script(*script_);
}

asio::awaitable<ScanReport> BulkScanner::scan(ScanInput input) {
  ScanReport r;
  r.scanner = "bulk";
  r.scores_spam = true;
  r.spam_check = false;
  std::shared_ptr<redis::Script> script = script_;
  const Envelope& e = input.envelope;
  if (find_header(input.message, "List-ID") ||
      sender_matches(config_.solicited_senders, e.sender.address)) {
    r.completed = true;
    r.headers.push_back("X-Mailsan-Bulk: solicited");
    co_return r;
  }
  std::string text(
      std::min<std::uint64_t>(input.message.size(), static_cast<std::uint64_t>(config_.max_bytes)),
      '\0');
  text.resize(input.message.read(0, text.data(), text.size()));
  std::vector<std::string> digests = bulk_digests(text);
  if (digests.empty()) {
    r.completed = true;
    co_return r;
  }
  bool trap = false;
  std::vector<std::string> args = {"1", "0", std::to_string(config_.ttl.count()),
                                   std::to_string(config_.bulk_threshold * 10)};
  for (const auto& rcpt : e.recipients) {
    std::string lower = util::ascii_lower(rcpt.address);
    if (std::find(traps_.begin(), traps_.end(), lower) != traps_.end()) trap = true;
    // Recipients are stored hashed: the set says how many, not who.
    args.push_back(util::sha1_hex(lower).substr(0, 16));
  }
  if (trap) args[1] = "1";
  std::vector<std::string_view> arg_views(args.begin(), args.end());

  std::int64_t most = 0;
  bool marked = false;
  for (const std::string& d : digests) {
    BulkKeys keys = bulk_keys(prefix_, d);
    const std::string_view key_views[] = {keys.recipients, keys.marked};
    redis::Result res = co_await redis_.eval(*script, key_views, arg_views);
    const auto& reply = res.reply;
    if (res.ec || reply.type != redis::Reply::Type::array || reply.elements.size() != 2) {
      r.completed = false;
      r.error = res.ec ? "redis: " + res.ec.message()
                       : "redis: " + (reply.is_error() ? reply.str : std::string("bad reply"));
      co_return r;
    }
    most = std::max(most, reply.elements[0].integer);
    marked = marked || reply.elements[1].integer == 1;
  }
  r.completed = true;
  const bool bulk = marked || most >= config_.bulk_threshold;
  std::string header =
      std::string("X-Mailsan-Bulk: ") + (bulk ? "yes" : "no") + "; count=" + std::to_string(most);
  if (marked) header += "; marked";
  r.headers.push_back(std::move(header));
  if (bulk) {
    r.score = config_.bulk_score;
    r.rules.push_back("MAILSAN_BULK");
  }
  co_return r;
}

}  // namespace mailsan::filter
