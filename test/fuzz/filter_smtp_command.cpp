// Fuzz target for mailsan-filter's SMTP command codec: any byte stream, cut
// into reads of any size, must give the same lines, errors and parsed
// arguments as when read whole; every line and every parsed value must keep
// the codec's promises (no CR or LF in a line, no control character in an
// address or an XFORWARD value, bounded sizes), and xtext must round-trip.
//
// Input: one byte choosing the read size and the line limit, then the stream.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "contentfilter/smtp/command.hpp"

namespace smtp = mailsan::filter::smtp;
using Status = smtp::LineReader::Status;

namespace {

bool has_control(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

void check_path(const smtp::Path& path) {
  if (path.address.size() + 2 > smtp::kMaxPathBytes) std::abort();
  if (has_control(path.address)) std::abort();
  for (const auto& p : path.parameters) {
    if (p.empty() || p.find(' ') != std::string::npos || has_control(p)) std::abort();
    std::size_t equals = p.find('=');
    if (!smtp::parameter(path, p.substr(0, equals))) std::abort();
  }
}

// MAIL's SIZE, when there is one, is what RFC 1870 allows: 1 to 20 digits.
void check_mail_size(const smtp::Path& path) {
  auto size = smtp::parameter(path, "SIZE");
  if (!size) return;
  if (size->empty() || size->size() > 20) std::abort();
  for (char c : *size)
    if (c < '0' || c > '9') std::abort();
}

// Parses a line every way it can be parsed and writes down what came out.
void describe(std::string_view line, std::string& out) {
  if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos)
    std::abort();
  smtp::Command command = smtp::parse_command(line);
  out += smtp::verb_name(command.verb);
  out += '|';
  out += command.argument;
  out += '|';
  std::string error;
  if (auto path = smtp::parse_mail_from(command.argument, &error)) {
    check_path(*path);
    check_mail_size(*path);
    out += path->address;
    for (const auto& p : path->parameters) out += ' ' + p;
  } else {
    out += error;
  }
  out += '|';
  if (auto path = smtp::parse_rcpt_to(command.argument, &error)) {
    check_path(*path);
    if (path->address.empty()) std::abort();
    out += path->address;
  } else {
    out += error;
  }
  out += '|';
  if (auto attributes = smtp::parse_xforward(command.argument, &error)) {
    for (const auto& a : *attributes) {
      if (a.name.empty() || a.value.empty() || has_control(a.value)) std::abort();
      std::string encoded = smtp::xtext_encode(a.value);
      auto decoded = smtp::xtext_decode(encoded, &error);
      if (!decoded || *decoded != a.value) std::abort();
      out += a.name + '=' + encoded + ' ';
    }
  } else {
    out += error;
  }
  // Whatever the argument is, encoding it must decode back to it.
  auto round_trip = smtp::xtext_decode(smtp::xtext_encode(line), &error);
  if (!round_trip || *round_trip != line) std::abort();
  out += '\n';
}

// Reads the whole stream in reads of `step` bytes; after an error the reader
// is reset and goes on with the next byte, as a lenient caller would.
std::string read(std::string_view input, std::size_t step, std::size_t limit) {
  smtp::LineReader reader(limit);
  std::string out;
  for (std::size_t off = 0; off < input.size(); off += step) {
    std::string_view chunk = input.substr(off, step);
    while (!chunk.empty()) {
      std::size_t used = 0;
      Status s = reader.feed(chunk, used);
      if (used > chunk.size()) std::abort();
      chunk.remove_prefix(used);
      if (s == Status::line) {
        if (reader.line().size() + 2 > limit) std::abort();
        describe(reader.line(), out);
      } else if (s == Status::error) {
        if (used == 0) std::abort();
        out += "error: ";
        out += reader.error();
        out += '\n';
        reader.reset();
      } else if (!chunk.empty()) {
        std::abort();
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t step = 1 + data[0] % 17;
  // Half the inputs use a small line limit, so that it is reached often.
  std::size_t limit = (data[0] & 0x80) ? 40 : smtp::LineReader::kDefaultMaxLineBytes;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string whole = read(input, input.size() + 1, limit);
  std::string pieces = read(input, step, limit);
  if (whole != pieces) std::abort();
  return 0;
}
