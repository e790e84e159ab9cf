// The SMTP reply parser: a line is collected up to its LF (never past
// kMaxLineBytes, checked as bytes arrive so a server that never sends LF is
// caught at once), then checked and added to the reply as a whole. Only
// complete lines are interpreted, so the result never depends on how the
// bytes were split into reads.
#include "common/smtp/reply.hpp"

#include <algorithm>
#include <utility>

#include "common/util/ascii.hpp"

namespace mailsan::smtp {

namespace {

bool printable(char c) {
  return c >= 0x20 && c <= 0x7e;
}

// The leading "D.DDD.DDD" of text when followed by a space or the end.
std::size_t enhanced_status_length(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
    return 0;
  std::size_t pos = 2;
  for (int part = 0; part < 2; ++part) {
    const std::size_t start = pos;
    while (pos < text.size() && pos - start < 4 && util::is_ascii_digit(text[pos])) ++pos;
    const std::size_t digits = pos - start;
    if (digits < 1 || digits > 3) return 0;
    if (part == 0) {
      if (pos >= text.size() || text[pos] != '.') return 0;
      ++pos;
    }
  }
  return pos == text.size() || text[pos] == ' ' ? pos : 0;
}

}  // namespace

std::string Reply::text() const {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += ' ';
    out += line;
  }
  return out;
}

std::string Reply::enhanced_status() const {
  if (lines.empty()) return {};
  return lines.front().substr(0, enhanced_status_length(lines.front()));
}

ReplyParser::Status ReplyParser::feed(std::string_view bytes, std::size_t& consumed) {
  consumed = 0;
  if (!error_.empty()) return Status::error;
  if (complete_) return Status::complete;
  while (consumed < bytes.size()) {
    const std::size_t newline = bytes.find('\n', consumed);
    const std::size_t end = newline == std::string_view::npos ? bytes.size() : newline;
    // Room left for the current line's bytes before its LF.
    const std::size_t room = kMaxLineBytes - 1 - line_.size();
    if (end - consumed > room) {
      consumed += room + 1;
      return fail("reply line too long");
    }
    line_.append(bytes.substr(consumed, end - consumed));
    consumed = end;
    if (newline == std::string_view::npos) break;
    ++consumed;  // the LF
    const Status status = end_of_line();
    if (status != Status::incomplete) return status;
  }
  return Status::incomplete;
}

ReplyParser::Status ReplyParser::end_of_line() {
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() < 3) return fail("reply line too short");
  if (line[0] < '2' || line[0] > '5' || !util::is_ascii_digit(line[1]) ||
      !util::is_ascii_digit(line[2]))
    return fail("bad reply code");
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  bool last = true;
  if (line.size() > 3) {
    if (line[3] == '-')
      last = false;
    else if (line[3] != ' ')
      return fail("bad separator after the reply code");
  }
  if (!reply_.lines.empty() && code != reply_.code)
    return fail("reply lines carry different codes");
  if (reply_.lines.size() == kMaxLines) return fail("reply has more than 100 lines");

  reply_.code = code;
  std::string text(line.substr(std::min<std::size_t>(4, line.size())));
  std::replace_if(
      text.begin(), text.end(), [](char c) { return !printable(c); }, '?');
  reply_.lines.push_back(std::move(text));
  line_.clear();
  if (!last) return Status::incomplete;
  complete_ = true;
  return Status::complete;
}

ReplyParser::Status ReplyParser::fail(const char* why) {
  error_ = why;
  line_.clear();
  reply_ = Reply{};
  return Status::error;
}

Reply ReplyParser::take() {
  if (!complete_) return Reply{};
  complete_ = false;
  return std::exchange(reply_, Reply{});
}

void ReplyParser::reset() {
  line_.clear();
  reply_ = Reply{};
  complete_ = false;
  error_.clear();
}

}  // namespace mailsan::smtp
