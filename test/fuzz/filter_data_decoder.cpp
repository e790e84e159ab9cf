// Fuzz target for mailsan-filter's DATA decoder: any bytes, cut into reads
// of any size, must decode exactly as when fed whole (outputs, end, errors,
// counts), and every message must keep the decoder's promises: the data ends
// at the first CRLF.CRLF and nowhere else, the wire form plus ".\r\n" is the
// bytes consumed, and the unstuffed form is the wire form with the leading
// dot of each line removed.
//
// Input: one byte choosing the read size, one choosing the size limit, then
// the stream, decoded as one message after another.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "contentfilter/smtp/data_decoder.hpp"

using mailsan::filter::smtp::DataDecoder;
using Status = DataDecoder::Status;

namespace {

// The reference unstuffing of a wire form that has only CRLF line ends.
std::string unstuff(std::string_view wire) {
  std::string out;
  bool line_start = true;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (line_start && wire[i] == '.') {
      line_start = false;
      continue;
    }
    out += wire[i];
    line_start = wire[i] == '\n';
  }
  return out;
}

void check_message(std::string_view consumed, const std::string& wire, const std::string& unstuffed,
                   const DataDecoder& decoder) {
  if (!decoder.done()) return;
  // The first CRLF.CRLF, counting the start as a line start, is the end.
  std::string framed = "\r\n" + std::string(consumed);
  if (framed.find("\r\n.\r\n") != framed.size() - 5) std::abort();
  if (decoder.too_large()) {
    // What came out before the limit is still the message's beginning.
    if (consumed.substr(0, wire.size()) != wire) std::abort();
    return;
  }
  if (wire + ".\r\n" != consumed) std::abort();
  if (decoder.bytes() != unstuffed.size()) std::abort();
  if (!decoder.error().empty()) return;
  // Without a bare CR or LF, every CR is followed by LF and every LF preceded by CR.
  std::uint64_t lines = 0;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r' && (i + 1 >= wire.size() || wire[i + 1] != '\n')) std::abort();
    if (wire[i] == '\n' && (i == 0 || wire[i - 1] != '\r')) std::abort();
    if (wire[i] == '\n') ++lines;
  }
  if (lines != decoder.lines()) std::abort();
  if (unstuff(wire) != unstuffed) std::abort();
}

std::string decode(std::string_view input, std::size_t step, std::uint64_t limit) {
  DataDecoder decoder(limit);
  std::string transcript, unstuffed, wire, consumed_bytes;
  for (std::size_t off = 0; off < input.size(); off += step) {
    std::string_view chunk = input.substr(off, step);
    while (!chunk.empty()) {
      std::size_t used = 0;
      Status s = decoder.feed(chunk, used, unstuffed, wire);
      if (used > chunk.size()) std::abort();
      if (limit != 0 && unstuffed.size() > limit) std::abort();
      consumed_bytes.append(chunk.substr(0, used));
      chunk.remove_prefix(used);
      if (s == Status::more) {
        if (!chunk.empty()) std::abort();
        continue;
      }
      check_message(consumed_bytes, wire, unstuffed, decoder);
      transcript += "message " + std::to_string(decoder.bytes()) + ' ' +
                    std::to_string(decoder.lines()) + ' ' + std::to_string(decoder.longest_line()) +
                    ' ' + (decoder.too_large() ? "too large " : "") + std::string(decoder.error()) +
                    '\n' + wire + '\n' + unstuffed + '\n';
      decoder.reset();
      unstuffed.clear();
      wire.clear();
      consumed_bytes.clear();
    }
  }
  transcript += "unfinished " + std::to_string(decoder.bytes()) + ' ' +
                std::to_string(decoder.lines()) + ' ' + std::to_string(decoder.longest_line()) +
                ' ' + std::string(decoder.error()) + '\n' + wire + '\n' + unstuffed;
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::size_t step = 1 + data[0] % 17;
  std::uint64_t limit = data[1] % 64;  // 0: no limit
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string whole = decode(input, input.size() + 1, limit);
  std::string pieces = decode(input, step, limit);
  if (whole != pieces) std::abort();
  return 0;
}
