#include "contentfilter/spamd/spamd_codec.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/util/ascii.hpp"

namespace mailsan::filter {
namespace {

constexpr std::size_t kMaxUserBytes = 256;
constexpr std::size_t kMaxRuleBytes = 128;
constexpr std::size_t kMaxStatusMessageBytes = 512;
constexpr std::size_t kMaxProcessedHeaderBytes = 8 * 1024;

std::string_view trim(std::string_view s, std::string_view blanks = " \t") {
  auto b = s.find_first_not_of(blanks);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(blanks);
  return s.substr(b, e - b + 1);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<double> parse_number(std::string_view s) {
  double value = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// Splits "a, b,c" at commas into sanitised names, skipping empty ones.
std::vector<std::string> split_names(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string name = sanitize_rule_name(trim(list.substr(0, comma), " \t\r\n"));
    if (!name.empty()) out.push_back(std::move(name));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

bool is_rule_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

std::string_view spamd_command_name(SpamdCommand command) {
  switch (command) {
    case SpamdCommand::check:
      return "CHECK";
    case SpamdCommand::symbols:
      return "SYMBOLS";
    case SpamdCommand::process:
      return "PROCESS";
    case SpamdCommand::ping:
      return "PING";
    case SpamdCommand::tell:
      return "TELL";
  }
  return "CHECK";
}

std::string spamd_user_value(std::string_view user) {
  std::string out(user.substr(0, kMaxUserBytes));
  for (char& c : out) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '+' || c == '_' || c == '.' || c == ',' || c == '@' || c == '=';
    if (!keep) c = '_';
  }
  if (!out.empty() && out[0] == '.') out[0] = '_';
  return out;
}

std::string encode_spamd_request(SpamdCommand command, std::string_view user,
                                 std::uint64_t content_length, const SpamdTell& tell) {
  std::string head(spamd_command_name(command));
  head += " SPAMC/1.5\r\n";
  // PING in protocol 1.5 still ends with an empty header block (spamd bug 6187).
  if (command != SpamdCommand::ping) {
    head += "Content-length: " + std::to_string(content_length) + "\r\n";
    std::string name = spamd_user_value(user);
    if (!name.empty()) head += "User: " + name + "\r\n";
  }
  if (command == SpamdCommand::tell) {
    if (tell.set_local || tell.remove_local)
      head += std::string("Message-class: ") +
              (tell.message_class == SpamdMessageClass::spam ? "spam" : "ham") + "\r\n";
    if (tell.set_local) head += "Set: local\r\n";
    if (tell.remove_local) head += "Remove: local\r\n";
  }
  head += "\r\n";
  return head;
}

std::string_view sysexits_name(int code) {
  static constexpr std::string_view kNames[] = {
      "EX_USAGE",    "EX_DATAERR", "EX_NOINPUT", "EX_NOUSER",    "EX_NOHOST", "EX_UNAVAILABLE",
      "EX_SOFTWARE", "EX_OSERR",   "EX_OSFILE",  "EX_CANTCREAT", "EX_IOERR",  "EX_TEMPFAIL",
      "EX_PROTOCOL", "EX_NOPERM",  "EX_CONFIG",  "EX_TIMEOUT"};
  if (code == 0) return "EX_OK";
  if (code >= 64 && code <= 79) return kNames[code - 64];
  return "EX_?";
}

std::string sanitize_rule_name(std::string_view name) {
  std::string out(name.substr(0, kMaxRuleBytes));
  for (char& c : out)
    if (!is_rule_char(c)) c = '_';
  return out;
}

SpamdResponseParser::SpamdResponseParser(SpamdCommand command, Limits limits)
    : command_(command), limits_(limits) {
  limits_.max_kept_body = std::min(limits_.max_kept_body, limits_.max_body);
}

SpamdResponseParser::Status SpamdResponseParser::fail(std::string why) {
  error_ = std::move(why);
  state_ = State::done;
  status_ = Status::error;
  return status_;
}

SpamdResponseParser::Status SpamdResponseParser::complete() {
  if (command_ == SpamdCommand::symbols && response_.ok())
    response_.rules = split_names(response_.body);
  state_ = State::done;
  status_ = Status::complete;
  return status_;
}

bool SpamdResponseParser::take_line(std::string_view& bytes, std::size_t& consumed,
                                    std::string_view& line) {
  if (line_ready_) {
    line_.clear();
    line_ready_ = false;
  }
  auto lf = bytes.find('\n');
  std::size_t take = lf == std::string_view::npos ? bytes.size() : lf + 1;
  if (line_.size() + take > limits_.max_line_bytes) {
    consumed += take;
    fail("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
    return false;
  }
  line_.append(bytes.substr(0, take));
  bytes.remove_prefix(take);
  consumed += take;
  if (lf == std::string_view::npos) return false;
  line_.pop_back();
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  line_ready_ = true;
  line = line_;
  return true;
}

SpamdResponseParser::Status SpamdResponseParser::feed(std::string_view bytes,
                                                      std::size_t& consumed) {
  consumed = 0;
  while (status_ == Status::incomplete && !bytes.empty()) {
    if (state_ == State::body) {
      std::uint64_t n = bytes.size();
      if (response_.content_length)
        n = std::min(n, *response_.content_length - response_.body_bytes);
      if (response_.body_bytes + n > limits_.max_body)
        return fail("body longer than " + std::to_string(limits_.max_body) + " bytes");
      std::uint64_t room = limits_.max_kept_body - response_.body.size();
      response_.body.append(bytes.substr(0, static_cast<std::size_t>(std::min(n, room))));
      response_.body_bytes += n;
      consumed += static_cast<std::size_t>(n);
      bytes.remove_prefix(static_cast<std::size_t>(n));
      if (response_.content_length && response_.body_bytes == *response_.content_length)
        return complete();
      continue;
    }
    std::string_view line;
    if (!take_line(bytes, consumed, line)) break;
    if (state_ == State::status_line)
      on_status_line(line);
    else
      on_header_line(line);
  }
  return status_;
}

SpamdResponseParser::Status SpamdResponseParser::finish() {
  if (status_ != Status::incomplete) return status_;
  switch (state_) {
    case State::status_line:
      return fail(line_.empty() ? "closed without a reply" : "closed in the status line");
    case State::headers:
      return fail("closed in the headers");
    case State::body:
      if (response_.content_length)
        return fail("closed after " + std::to_string(response_.body_bytes) + " of " +
                    std::to_string(*response_.content_length) + " body bytes");
      return complete();
    case State::done:
      break;
  }
  return status_;
}

SpamdResponseParser::Status SpamdResponseParser::on_status_line(std::string_view line) {
  constexpr std::string_view kPrefix = "SPAMD/";
  if (line.substr(0, kPrefix.size()) != kPrefix) return fail("not a SPAMD status line");
  line.remove_prefix(kPrefix.size());
  auto space = line.find(' ');
  std::string_view version = line.substr(0, space);
  auto dot = version.find('.');
  if (version.size() > 9 || dot == std::string_view::npos || !all_digits(version.substr(0, dot)) ||
      !all_digits(version.substr(dot + 1)))
    return fail("bad protocol version in the status line");
  if (space == std::string_view::npos) return fail("no code in the status line");
  line.remove_prefix(space + 1);
  space = line.find(' ');
  std::string_view code = line.substr(0, space);
  if (code.size() > 3 || !all_digits(code)) return fail("bad code in the status line");
  int value = 0;
  std::from_chars(code.data(), code.data() + code.size(), value);
  if (value > 255) return fail("bad code in the status line");
  response_.version = std::string(version);
  response_.code = value;
  if (space != std::string_view::npos) {
    response_.message = std::string(line.substr(space + 1, kMaxStatusMessageBytes));
    for (char& c : response_.message)
      if (c < 0x20 || c > 0x7e) c = '?';
  }
  // An error is one line and the end (spamd closes); so is PONG.
  if (value != 0 || command_ == SpamdCommand::ping) return complete();
  state_ = State::headers;
  return status_;
}

SpamdResponseParser::Status SpamdResponseParser::on_header_line(std::string_view line) {
  if (line.empty()) return end_of_headers();
  if (++headers_ > limits_.max_headers)
    return fail("more than " + std::to_string(limits_.max_headers) + " headers");
  for (char c : line)
    if ((c >= 0 && c < 0x20 && c != '\t') || c == 0x7f)
      return fail("control character in a header");
  auto colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos)
    return fail("header not in 'Name: value' form");
  std::string_view name = line.substr(0, colon);
  for (char c : name)
    if (c <= 0x20 || c >= 0x7f) return fail("bad header name");
  std::string_view value = trim(line.substr(colon + 1));
  if (util::iequals(name, "Content-length")) {
    if (!all_digits(value) || value.size() > 19) return fail("bad Content-length");
    std::uint64_t length = 0;
    std::from_chars(value.data(), value.data() + value.size(), length);
    if (response_.content_length && *response_.content_length != length)
      return fail("conflicting Content-length headers");
    if (length > limits_.max_body)
      return fail("body longer than " + std::to_string(limits_.max_body) + " bytes");
    response_.content_length = length;
  } else if (util::iequals(name, "Spam")) {
    if (response_.has_spam_header) return fail("more than one Spam header");
    auto semicolon = value.find(';');
    auto slash = value.find('/', semicolon == std::string_view::npos ? 0 : semicolon);
    if (semicolon == std::string_view::npos || slash == std::string_view::npos)
      return fail("bad Spam header");
    std::string_view flag = trim(value.substr(0, semicolon));
    if (util::iequals(flag, "True") || util::iequals(flag, "Yes"))
      response_.spam = true;
    else if (util::iequals(flag, "False") || util::iequals(flag, "No"))
      response_.spam = false;
    else
      return fail("bad Spam header");
    auto score = parse_number(trim(value.substr(semicolon + 1, slash - semicolon - 1)));
    auto threshold = parse_number(trim(value.substr(slash + 1)));
    if (!score || !threshold) return fail("bad score in the Spam header");
    response_.has_spam_header = true;
    response_.score = *score;
    response_.threshold = *threshold;
  } else if (util::iequals(name, "DidSet")) {
    for (auto& n : split_names(value)) response_.did_set.push_back(std::move(n));
  } else if (util::iequals(name, "DidRemove")) {
    for (auto& n : split_names(value)) response_.did_remove.push_back(std::move(n));
  }
  // Headers not known yet are ignored, as spamd/PROTOCOL asks.
  return status_;
}

SpamdResponseParser::Status SpamdResponseParser::end_of_headers() {
  switch (command_) {
    case SpamdCommand::check:
    case SpamdCommand::symbols:
    case SpamdCommand::process:
      if (!response_.has_spam_header) return fail("no Spam header");
      break;
    case SpamdCommand::ping:
    case SpamdCommand::tell:
      break;
  }
  // CHECK and TELL have no body (TELL's reply ends in a spare CRLF, ignored).
  if (command_ == SpamdCommand::check || command_ == SpamdCommand::tell ||
      command_ == SpamdCommand::ping)
    return complete();
  state_ = State::body;
  if (response_.content_length && *response_.content_length == 0) return complete();
  return status_;
}

SpamdProcessedHead parse_spamd_processed_head(std::string_view message) {
  SpamdProcessedHead out;
  // Header fields of the head, each with its continuation lines.
  std::vector<std::vector<std::string_view>> fields;
  while (!message.empty()) {
    auto lf = message.find('\n');
    std::string_view line = message.substr(0, lf);
    message.remove_prefix(lf == std::string_view::npos ? message.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (!fields.empty()) fields.back().push_back(line);
      continue;
    }
    fields.push_back({line});
  }
  for (const auto& field : fields) {
    std::string_view first = field[0];
    auto colon = first.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = first.substr(0, colon);
    if (util::iequals(name, "X-Spam-Status")) {
      std::string value;
      for (auto part : field) value += part;
      auto at = value.find("tests=");
      if (at == std::string::npos || !out.rules.empty()) continue;
      // tests=A,B,\n\tC autolearn=no: names joined by commas, folding
      // white space allowed after a comma; anything else ends the list.
      std::size_t i = at + 6;
      while (i < value.size()) {
        std::size_t begin = i;
        while (i < value.size() && is_rule_char(value[i])) ++i;
        if (i > begin && value.compare(begin, i - begin, "none") != 0)
          out.rules.push_back(sanitize_rule_name(std::string_view(value).substr(begin, i - begin)));
        if (i >= value.size() || value[i] != ',') break;
        ++i;
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
      }
    } else if (util::iequals(name, "X-Spam-Level") || util::iequals(name, "X-Spam-Report")) {
      // Folded lines joined by CRLF and a tab, every other byte printable
      // ASCII: a header line we write must be what the name says and no more.
      std::string header;
      for (auto part : field) {
        std::string_view text = trim(part);
        if (text.empty()) continue;  // no line of white space alone
        if (!header.empty()) header += "\r\n\t";
        for (char c : text) header += (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '?';
      }
      bool clean = header.size() <= kMaxProcessedHeaderBytes;
      if (clean && colon + 1 < header.size()) out.headers.push_back(std::move(header));
    }
  }
  return out;
}

}  // namespace mailsan::filter
