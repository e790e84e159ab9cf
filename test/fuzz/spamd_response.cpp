// Fuzz target for the spamd response parser: any bytes, cut into reads of
// any size, must parse exactly as when fed whole (status, error, every field
// of the response, and where a complete response ended), and what it keeps
// must honour its promises: bounded body, rule names of [A-Za-z0-9_] only,
// finite scores, a printable status message. The processed-head reader runs
// on every body too.
//
// Input: one byte choosing the command, one the read size, one the limits,
// then spamd's bytes.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "contentfilter/spamd/spamd_codec.hpp"

using mailsan::filter::parse_spamd_processed_head;
using mailsan::filter::SpamdCommand;
using mailsan::filter::SpamdResponseParser;
using Status = SpamdResponseParser::Status;

namespace {

bool rule_ok(const std::string& rule) {
  if (rule.empty() || rule.size() > 128) return false;
  for (char c : rule)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

std::string parse(std::string_view input, SpamdCommand command, std::size_t step,
                  const SpamdResponseParser::Limits& limits) {
  SpamdResponseParser parser(command, limits);
  Status status = Status::incomplete;
  std::size_t consumed = 0;
  for (std::size_t off = 0; off < input.size() && status == Status::incomplete; off += step) {
    std::string_view chunk = input.substr(off, step);
    std::size_t used = 0;
    status = parser.feed(chunk, used);
    if (used > chunk.size()) std::abort();
    if (status == Status::incomplete && used != chunk.size()) std::abort();
    consumed += used;
  }
  status = parser.finish();
  std::string out;
  if (status == Status::error) {
    if (parser.error().empty()) std::abort();
    return "error " + std::string(parser.error());
  }
  if (status != Status::complete) std::abort();
  const auto& r = parser.response();
  if (r.body.size() > limits.max_kept_body || r.body_bytes > limits.max_body) std::abort();
  if (r.body.size() > r.body_bytes) std::abort();
  // A body is read for SYMBOLS and PROCESS only, and then all of it.
  const bool has_body = command == SpamdCommand::symbols || command == SpamdCommand::process;
  if (!has_body && r.body_bytes != 0) std::abort();
  if (has_body && r.ok() && r.content_length && r.body_bytes != *r.content_length) std::abort();
  if (!std::isfinite(r.score) || !std::isfinite(r.threshold)) std::abort();
  for (char c : r.message)
    if (c < 0x20 || c > 0x7e) std::abort();
  for (const auto& rule : r.rules)
    if (!rule_ok(rule)) std::abort();
  for (const auto& name : r.did_set)
    if (!rule_ok(name)) std::abort();
  auto head = parse_spamd_processed_head(r.body);
  for (const auto& rule : head.rules)
    if (!rule_ok(rule)) std::abort();
  for (const auto& h : head.headers) {
    // Only folded lines: every LF is part of CRLF TAB, no other control bytes.
    for (std::size_t i = 0; i < h.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(h[i]);
      if (c == '\r') {
        if (h.compare(i, 3, "\r\n\t") != 0) std::abort();
        i += 2;
      } else if ((c < 0x20 && c != '\t') || c >= 0x7f) {
        std::abort();
      }
    }
  }
  out = "complete " + std::to_string(consumed) + ' ' + r.version + ' ' + std::to_string(r.code) +
        ' ' + r.message + ' ' + (r.has_spam_header ? "spam-header " : "") +
        (r.spam ? "spam " : "ham ") + std::to_string(r.score) + '/' + std::to_string(r.threshold) +
        ' ' + std::to_string(r.body_bytes) + '\n' + r.body + '\n';
  for (const auto& rule : r.rules) out += rule + ',';
  out += '\n';
  for (const auto& s : r.did_set) out += s + ',';
  for (const auto& s : r.did_remove) out += s + ';';
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static constexpr SpamdCommand kCommands[] = {SpamdCommand::check, SpamdCommand::symbols,
                                               SpamdCommand::process, SpamdCommand::ping,
                                               SpamdCommand::tell};
  SpamdCommand command = kCommands[data[0] % 5];
  std::size_t step = 1 + data[1] % 23;
  SpamdResponseParser::Limits limits;
  if (data[2] & 1) {
    // Small limits, so the fuzzer reaches them.
    limits.max_line_bytes = 16 + data[2] % 64;
    limits.max_headers = data[2] % 5;
    limits.max_body = data[2] % 97;
    limits.max_kept_body = data[2] % 31;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::string whole = parse(input, command, input.size() + 1, limits);
  std::string pieces = parse(input, command, step, limits);
  if (whole != pieces) std::abort();
  return 0;
}
