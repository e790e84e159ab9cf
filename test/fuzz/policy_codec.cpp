// Fuzz target for the policy-request parser: any bytes, in any chunking, must
// give the same result as when fed whole, never exceed the bounds, and never
// crash.
#include "policyd/protocol/policy_codec.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using mailsan::policyd::PolicyRequestParser;
using Status = PolicyRequestParser::Status;

namespace {

struct Outcome {
  std::vector<std::string> requests;  // the raw text of each complete request
  bool error = false;
};

Outcome parse(std::string_view input, std::size_t step) {
  PolicyRequestParser parser;
  Outcome out;
  for (std::size_t off = 0; off < input.size() && !out.error; off += step) {
    std::string_view chunk = input.substr(off, step);
    while (!chunk.empty()) {
      std::size_t used = 0;
      Status s = parser.feed(chunk, &used);
      if (used > chunk.size()) std::abort();
      chunk.remove_prefix(used);
      if (s == Status::error) {
        out.error = true;
        break;
      }
      if (s == Status::complete) {
        auto r = parser.take();
        if (r.size_bytes() > 64 * 1024 || r.attribute_count() > 1000 || r.attribute_count() == 0)
          std::abort();
        // Touch every well-known accessor: views must stay inside the request.
        std::size_t total = r.request().size() + r.sender().size() + r.recipient().size() +
                            r.client_address().size() + r.instance().size();
        if (total > r.size_bytes()) std::abort();
        out.requests.emplace_back(r.text());
      }
      if (s == Status::need_more && !chunk.empty()) std::abort();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t step = 1 + data[0] % 17;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Outcome whole = parse(input, input.size() + 1);
  Outcome pieces = parse(input, step);
  if (whole.error != pieces.error || whole.requests != pieces.requests) std::abort();
  for (const auto& r : whole.requests) {
    auto reply = mailsan::policyd::encode_reply(r);
    if (reply.find('\n') != reply.size() - 2) std::abort();
  }
  return 0;
}
