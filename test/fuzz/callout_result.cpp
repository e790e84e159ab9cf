// Fuzz target for the callout cache codec: whatever a Redis value holds, it
// decodes into a verdict whose texts are safe for a policy reply, or into
// nothing; and what it decodes encodes back to the same verdict.
#include "policyd/callout/callout_result.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace mailsan::policyd;

namespace {

bool reply_safe(const std::string& text) {
  for (char c : text)
    if (c < 0x20 || c >= 0x7f || c == '"') return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = decode_callout_result(input);
  if (!r) return 0;
  if (!reply_safe(r->mx_host) || !reply_safe(r->mx_ip) || !reply_safe(r->reply) ||
      !reply_safe(r->reason))
    std::abort();
  if (r->mx_preference < 0 || r->mx_preference > 65535) std::abort();
  auto again = decode_callout_result(encode_callout_result(input, *r));
  if (!again || again->verdict != r->verdict || again->reply != r->reply ||
      again->mx_host != r->mx_host || again->mx_preference != r->mx_preference)
    std::abort();
  return 0;
}
