#include "policyd/protocol/policy_codec.hpp"

#include <cstring>

namespace mailsan::policyd {

PolicyRequestParser::Status PolicyRequestParser::fail(const char* why) {
  error_ = why;
  return Status::error;
}

PolicyRequestParser::Status PolicyRequestParser::feed(std::string_view data,
                                                      std::size_t* consumed) {
  *consumed = 0;
  if (!error_.empty()) return Status::error;
  while (*consumed < data.size()) {
    std::string_view rest = data.substr(*consumed);
    const void* nl = std::memchr(rest.data(), '\n', rest.size());
    std::size_t take =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - rest.data()) + 1 : rest.size();
    if (request_.size_bytes() + take > limits_.max_request_bytes)
      return fail("request larger than the size limit");
    // Remember where '=' is while copying, so the line is scanned once.
    if (!has_equals_) {
      const void* eq = std::memchr(rest.data(), '=', nl ? take - 1 : take);
      if (eq) {
        has_equals_ = true;
        equals_ = request_.size_bytes() +
                  static_cast<std::size_t>(static_cast<const char*>(eq) - rest.data());
      }
    }
    request_.append_bytes(rest.substr(0, take));
    *consumed += take;
    if (!nl) return Status::need_more;

    std::size_t line_end = request_.size_bytes() - 1;  // at '\n'
    // Tolerate CRLF from hand-written clients; Postfix sends bare LF.
    std::size_t content_end = line_end;
    if (content_end > line_begin_ && request_.text()[content_end - 1] == '\r') --content_end;
    if (content_end == line_begin_) {
      if (request_.attribute_count() == 0) return fail("empty request");
      return Status::complete;
    }
    if (!has_equals_ || equals_ >= content_end) return fail("attribute line without '='");
    if (equals_ == line_begin_) return fail("attribute with an empty name");
    if (request_.attribute_count() >= limits_.max_attributes)
      return fail("request has more attributes than the limit");
    request_.add_attribute(static_cast<std::uint32_t>(line_begin_),
                           static_cast<std::uint32_t>(equals_),
                           static_cast<std::uint32_t>(content_end));
    line_begin_ = line_end + 1;
    has_equals_ = false;
  }
  return Status::need_more;
}

PolicyRequest PolicyRequestParser::take() {
  PolicyRequest out = std::move(request_);
  request_.clear();
  line_begin_ = 0;
  has_equals_ = false;
  return out;
}

std::string encode_reply(std::string_view action) {
  std::string out;
  out.reserve(action.size() + 9);
  out += "action=";
  for (char c : action) out += (c == '\n' || c == '\r') ? ' ' : c;
  out += "\n\n";
  return out;
}

}  // namespace mailsan::policyd
