// Incoming headers we own (SPEC §3): a sender must not be able to
// pre-answer our verdict, so copies of the headers mailsan writes are
// removed from a message before it is scanned and passed on.
//
// - X-Spam-*, X-Virus-Scanned and X-Mailsan-* are always removed: the
//   content scanners write them anew on top.
// - Received-SPF and X-Greylist are written by mailsan-policyd and handed to
//   the MTA as PREPEND actions. Postfix's smtpd writes PREPENDed headers
//   above its own Received: header (tested with a real Postfix in
//   test/integration/postfix_owned_headers_test.cpp), so ours are the
//   copies above the topmost Received: and are kept; every copy below it
//   came from outside and is removed.
//
// SECURITY: the input is the message as any client sent it. The filter is a
// pure streaming state machine: it buffers at most a header name, decides
// as soon as the name ends, and copies everything after the header section
// untouched, so its memory is bounded whatever the message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::filter {

// What happens to one header field, by its name (any case).
enum class OwnedHeader { keep, remove, remove_below_received };
OwnedHeader classify_header(std::string_view name);

class OwnedHeaderFilter {
 public:
  // `exempt`: header names passed on even though they look like ours (the
  // test scanner's trigger header, while that scanner is switched on).
  explicit OwnedHeaderFilter(std::vector<std::string> exempt = {}) : exempt_(std::move(exempt)) {}

  // Appends to `out` what is kept of `in`; call with consecutive pieces of
  // the (dot-unstuffed, CRLF) message, of any size.
  void feed(std::string_view in, std::string& out);
  // At the end of the message: flushes a name still being read.
  void finish(std::string& out);

  // True once the header section has ended: what follows passes as it is,
  // so a caller may skip feed() and use the bytes directly.
  bool in_body() const { return state_ == State::body; }

  // Names of the fields removed so far, as written (at most 32 kept).
  const std::vector<std::string>& removed() const { return removed_; }
  std::size_t removed_count() const { return removed_count_; }

 private:
  enum class State { line_start, name, field_keep, field_drop, header_cr, body };
  void end_name(char terminator, std::string& out);

  std::vector<std::string> exempt_;
  State state_ = State::line_start;
  std::string name_;  // the name being read, up to the colon
  bool seen_received_ = false;
  bool dropping_field_ = false;  // continuation lines follow their field
  std::vector<std::string> removed_;
  std::size_t removed_count_ = 0;
};

}  // namespace mailsan::filter
