#include "contentfilter/message/owned_headers.hpp"

#include "common/util/ascii.hpp"

namespace mailsan::filter {
namespace {

// Longer than any header name we own: a "name" that long is no field of
// ours (or no field at all) and is passed on as it is.
constexpr std::size_t kMaxName = 128;

// RFC 5322's obsolete syntax allows white space before the colon, and
// readers accept it: "X-Spam-Flag : YES" is X-Spam-Flag.
std::string_view field_name(std::string_view name) {
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return name;
}

bool starts_with_i(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && util::iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

OwnedHeader classify_header(std::string_view name) {
  name = field_name(name);
  if (starts_with_i(name, "X-Spam-") || starts_with_i(name, "X-Mailsan-") ||
      util::iequals(name, "X-Virus-Scanned"))
    return OwnedHeader::remove;
  if (util::iequals(name, "Received-SPF") || util::iequals(name, "X-Greylist"))
    return OwnedHeader::remove_below_received;
  return OwnedHeader::keep;
}

void OwnedHeaderFilter::end_name(char terminator, std::string& out) {
  if (terminator != ':') {
    // Not a field (no colon on the line, or a name too long to be ours):
    // passed on untouched; the line ends as it will.
    out += name_;
    out += terminator;
    name_.clear();
    state_ = terminator == '\n' ? State::line_start : State::field_keep;
    dropping_field_ = false;
    return;
  }
  std::string_view name(name_);
  bool drop = false;
  OwnedHeader kind = classify_header(name);
  for (const auto& e : exempt_)
    if (util::iequals(field_name(name), e)) kind = OwnedHeader::keep;
  switch (kind) {
    case OwnedHeader::keep:
      if (util::iequals(name, "Received")) seen_received_ = true;
      break;
    case OwnedHeader::remove:
      drop = true;
      break;
    case OwnedHeader::remove_below_received:
      drop = seen_received_;
      break;
  }
  if (drop) {
    ++removed_count_;
    if (removed_.size() < 32) removed_.emplace_back(name_);
  } else {
    out += name_;
    out += ':';
  }
  name_.clear();
  dropping_field_ = drop;
  state_ = drop ? State::field_drop : State::field_keep;
}

void OwnedHeaderFilter::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    switch (state_) {
      case State::body:
        // The header section is over: the rest goes out in one piece.
        out.append(in.substr(i));
        return;
      case State::line_start:
        if (c == '\r') {
          state_ = State::header_cr;
        } else if (c == ' ' || c == '\t') {
          // A continuation line belongs to the field before it.
          if (!dropping_field_) out += c;
          state_ = dropping_field_ ? State::field_drop : State::field_keep;
        } else if (c == '\n') {
          out += c;  // a bare LF (the decoder refuses such messages anyway)
        } else if (c == ':') {
          out += c;  // a line with an empty name is no field of ours
          state_ = State::field_keep;
          dropping_field_ = false;
        } else {
          name_.assign(1, c);
          state_ = State::name;
        }
        ++i;
        break;
      case State::header_cr:
        if (c == '\n') {
          // CRLF on its own: the empty line that ends the header section.
          out += "\r\n";
          state_ = State::body;
        } else {
          // A CR not followed by LF starts a line that is no field.
          out += '\r';
          state_ = State::field_keep;
          dropping_field_ = false;
          continue;  // this byte belongs to that line
        }
        ++i;
        break;
      case State::name:
        if (c == ':' || c == '\r' || c == '\n' || name_.size() >= kMaxName) {
          if (c == ':' || c == '\n') {
            end_name(c, out);
            ++i;
          } else {
            // CR, or too long: not a field name; keep the line, and read this
            // byte as part of it.
            end_name('\0', out);
            out.pop_back();  // the '\0' placeholder
          }
        } else {
          name_ += c;
          ++i;
        }
        break;
      case State::field_keep:
      case State::field_drop: {
        // Copy or skip up to the end of the line in one step.
        auto nl = in.find('\n', i);
        std::size_t end = nl == std::string_view::npos ? in.size() : nl + 1;
        if (state_ == State::field_keep) out.append(in.substr(i, end - i));
        if (nl != std::string_view::npos) state_ = State::line_start;
        i = end;
        break;
      }
    }
  }
}

void OwnedHeaderFilter::finish(std::string& out) {
  if (state_ == State::name) out += name_;
  if (state_ == State::header_cr) out += '\r';
  name_.clear();
  state_ = State::body;
}

}  // namespace mailsan::filter
