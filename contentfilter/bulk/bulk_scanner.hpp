// Bulk detection as a scanner (SPEC §3): the message's checksums
// (bulk_digest.hpp) are counted per distinct recipient in the Redis every MX
// shares, so copies of one message that land on different MXes count
// together. A checksum seen by bulk_threshold recipients, or marked by a
// spam trap or `mailsanctl learn spam`, makes the message bulk: the
// X-Mailsan-Bulk header says so and bulk_score joins its spam score.
// List-ID mail and solicited senders are not counted.
//
// Fails open: without Redis the message is simply not counted.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/redis/client.hpp"
#include "contentfilter/filter_config.hpp"
#include "contentfilter/scan/scanner.hpp"

namespace mailsan::filter {

// Redis keys of one checksum: the recipient set and the "marked bulk" flag,
// under one hash tag.
struct BulkKeys {
  std::string recipients;
  std::string marked;
};
BulkKeys bulk_keys(std::string_view prefix, std::string_view digest);

// The Lua script counting one checksum: adds the recipients (hashed) unless
// the message is not to be counted, marks it when asked, returns
// {distinct recipients, marked}.
extern const char* const kBulkScript;

class BulkScanner : public Scanner {
 public:
  BulkScanner(redis::Client& redis, std::string prefix, BulkConfig config);
  std::string_view name() const override { return "bulk"; }
  FailureMode failure_mode() const override { return FailureMode::open; }
  std::string unavailable_reply() const override {
    return "451 4.3.0 Bulk check temporarily unavailable";
  }
  boost::asio::awaitable<ScanReport> scan(ScanInput input) override;

 private:
  redis::Client& redis_;
  std::string prefix_;
  BulkConfig config_;
  std::vector<std::string> traps_;  // lower-cased
  std::shared_ptr<redis::Script> script_;
};

}  // namespace mailsan::filter
