// What a sender-address verification callout found (SPEC §2.1 step 5), and
// its form in the Redis cache that every MX shares.
//
// SECURITY: a cached value is read back from Redis and the reply text in it
// came from a remote MX; decode() accepts only well-formed values, and the
// text is kept to printable ASCII without double quotes so it can go into a
// policy reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailsan::policyd {

struct CalloutResult {
  enum class Verdict { valid, invalid, unknown };
  Verdict verdict = Verdict::unknown;
  // The MX that gave the verdict (empty when none answered).
  int mx_preference = 0;
  std::string mx_host;  // without the trailing dot
  std::string mx_ip;
  std::string reply;   // the MX's reply to RCPT (or why the verdict is unknown)
  std::string reason;  // short label for logs and metrics: rcpt_accepted, connect_failed, ...
};

std::string_view to_string(CalloutResult::Verdict verdict);

// Text from a remote server reduced to at most max_length printable ASCII
// characters; double quotes become single ones (the reply quotes it).
std::string callout_text_safe(std::string_view text, std::size_t max_length = 200);

// The cache value: JSON, with the address for whoever inspects the cache
// (the key is a digest of it).
std::string encode_callout_result(std::string_view address, const CalloutResult& result);
// nullopt for anything malformed, which the caller treats as not cached.
std::optional<CalloutResult> decode_callout_result(std::string_view value);

}  // namespace mailsan::policyd
