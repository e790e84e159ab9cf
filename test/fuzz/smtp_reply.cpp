// Fuzz target for the SMTP reply parser: any bytes, in any chunking, must
// give the same replies and the same error as when fed whole, every reply
// must keep the parser's bounds (100 lines, 512-byte lines, codes 200..599,
// printable text only), and nothing may crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/smtp/reply.hpp"

using mailsan::smtp::Reply;
using mailsan::smtp::ReplyParser;
using Status = ReplyParser::Status;

namespace {

struct Outcome {
  std::vector<int> codes;
  std::vector<std::vector<std::string>> lines;
  std::string error;
};

void check_bounds(const Reply& r) {
  if (r.code < 200 || r.code > 599) std::abort();
  if (r.lines.empty() || r.lines.size() > ReplyParser::kMaxLines) std::abort();
  for (const std::string& line : r.lines) {
    // "DDD " before the text and at least LF after it.
    if (line.size() > ReplyParser::kMaxLineBytes - 5) std::abort();
    for (char c : line)
      if (c < 0x20 || c > 0x7e) std::abort();
  }
  const std::string status = r.enhanced_status();
  if (r.lines.front().compare(0, status.size(), status) != 0) std::abort();
  if (r.text().find_first_of("\r\n") != std::string::npos) std::abort();
  if (r.positive() + r.transient() + r.permanent() != 1) std::abort();
}

Outcome parse(std::string_view input, std::size_t step) {
  ReplyParser parser;
  Outcome out;
  for (std::size_t off = 0; off < input.size() && out.error.empty(); off += step) {
    std::string_view chunk = input.substr(off, step);
    while (!chunk.empty()) {
      std::size_t used = 0;
      const Status s = parser.feed(chunk, used);
      if (used > chunk.size()) std::abort();
      chunk.remove_prefix(used);
      if (s == Status::error) {
        out.error = std::string(parser.error());
        if (out.error.empty()) std::abort();
        break;
      }
      if (s == Status::complete) {
        Reply r = parser.take();
        check_bounds(r);
        out.codes.push_back(r.code);
        out.lines.push_back(std::move(r.lines));
      }
      if (s == Status::incomplete && !chunk.empty()) std::abort();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 17;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = parse(input, input.size() + 1);
  const Outcome pieces = parse(input, step);
  if (whole.error != pieces.error || whole.codes != pieces.codes || whole.lines != pieces.lines)
    std::abort();
  return 0;
}
