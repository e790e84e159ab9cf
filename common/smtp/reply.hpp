// SMTP replies (RFC 5321 §4.2), pure: no I/O. Used by smtp::Client, which
// feeds it the bytes it reads from a server, and by the fuzz target.
//
// SECURITY: the bytes come from remote MXes we call out to (any host on the
// Internet that an MX record names) and from the downstream Postfix. Nothing
// the parser keeps is unbounded: a line is at most 512 bytes with its line
// ending and a reply at most 100 lines, so one reply costs at most about
// 50 KiB. The text of a reply ends up in our log lines and in replies we send
// to others, so every byte outside printable ASCII is replaced by '?': a
// remote server cannot inject a line break, an escape sequence or a NUL.
//
// A reply is one or more lines "DDD-text" ending with one "DDD text" (or a
// bare "DDD"); every line carries the same code DDD, 2xx to 5xx. Lines end in
// CRLF; a bare LF is accepted too, since many MXes are sloppy about it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::smtp {

struct Reply {
  int code = 0;                    // 200..599; 0 in a default-constructed Reply
  std::vector<std::string> lines;  // the text of each line, after "250-" / "250 "

  // The lines joined by a single space, for a log line or a one-line reply.
  std::string text() const;
  // The RFC 3463 status code ("5.1.1") the first line starts with, or "".
  // Only its syntax is checked: whether its class agrees with the reply
  // code is the caller's question, since servers do get that wrong.
  std::string enhanced_status() const;
  // 2xx and 3xx (354 after DATA is a positive reply too).
  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }  // 4xx: try again later
  bool permanent() const { return code >= 500 && code < 600; }  // 5xx: do not retry
};

class ReplyParser {
 public:
  enum class Status { incomplete, complete, error };

  // A line of 512 bytes counts its CRLF (RFC 5321 §4.5.3.1.5); a reply of
  // more than 100 lines is not a server's honest answer.
  static constexpr std::size_t kMaxLineBytes = 512;
  static constexpr std::size_t kMaxLines = 100;

  // Consumes bytes from the front of `bytes` up to the end of one complete
  // reply, an error, or the end of the data. `consumed` tells how many bytes
  // were used; the rest belongs to the next reply. Once complete, feed()
  // consumes nothing until take(); once in error, nothing until reset().
  Status feed(std::string_view bytes, std::size_t& consumed);
  // After Status::complete: the reply; the parser is ready for the next one.
  Reply take();
  // After Status::error: why, for the log.
  std::string_view error() const { return error_; }
  // Forgets everything: a partial reply, a complete one not taken, an error.
  void reset();

 private:
  Status end_of_line();
  Status fail(const char* why);

  std::string line_;  // the current line so far, without its LF
  Reply reply_;
  bool complete_ = false;
  std::string error_;
};

}  // namespace mailsan::smtp
