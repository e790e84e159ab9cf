// The server side of the SMTP command stream that Postfix's before-queue
// smtpd (smtpd_proxy_filter, SMTPD_PROXY_README) sends to mailsan-filter:
// cutting the stream into lines, naming the verb, and parsing the arguments
// of MAIL, RCPT and XFORWARD. Pure: bytes in, values or errors out, no I/O,
// so every part is fuzzed (test/fuzz/filter_smtp_command.cpp). The proxy's
// connection code calls it; the message itself goes through DataDecoder.
//
// SECURITY: Postfix forwards MAIL and RCPT "as received" from the Internet
// client, so these lines are untrusted even though only Postfix connects.
// Everything kept is bounded by the line limit. Line ends are never guessed:
// a line ends in CRLF and nothing else, and a bare CR or LF is an error, so
// the proxy and the smtpd on either side of it cannot disagree about where a
// command ends (SMTP smuggling). Parsed addresses contain no control
// characters and no unquoted space; decoded XFORWARD values contain no
// control characters, so none of them can split a log line or a command the
// proxy writes downstream.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::filter::smtp {

// Cuts a byte stream into CRLF-terminated command lines. Incremental: fed
// whatever each read returned, it keeps the partial line between calls.
class LineReader {
 public:
  enum class Status { incomplete, line, error };

  // RFC 5321 §4.5.3.1.4 asks for 512 bytes at least; Postfix writes longer
  // XFORWARD and MAIL lines (a 256-byte path plus every ESMTP parameter).
  static constexpr std::size_t kDefaultMaxLineBytes = 2048;

  // max_line_bytes counts the CRLF.
  explicit LineReader(std::size_t max_line_bytes = kDefaultMaxLineBytes)
      : max_line_bytes_(max_line_bytes) {}

  // Reads from the front of `bytes` until a line is complete, an error is
  // found or the bytes run out. `consumed` tells how many bytes were used:
  // after Status::line, up to and including the LF (the rest belongs to the
  // next line); after Status::error, up to and including the offending byte;
  // after Status::incomplete, all of them.
  Status feed(std::string_view bytes, std::size_t& consumed);
  // After Status::line: the line without its CRLF, valid until the next
  // feed() or reset().
  std::string_view line() const { return line_; }
  // After Status::error: "bare LF", "bare CR" or "line too long". The error
  // sticks, and feed() keeps returning it, until reset().
  std::string_view error() const { return error_; }
  // Forgets the partial line and any error; the next byte fed starts a line.
  void reset();

 private:
  Status fail(const char* why);

  std::size_t max_line_bytes_;
  std::string line_;
  bool line_complete_ = false;  // line_ holds a returned line, cleared on the next feed
  bool pending_cr_ = false;     // the last byte was CR; only LF may follow
  std::string error_;
};

enum class Verb {
  ehlo,
  helo,
  xforward,
  mail,
  rcpt,
  data,
  rset,
  noop,
  quit,
  vrfy,
  bdat,
  starttls,
  auth,
  unknown
};

struct Command {
  Verb verb = Verb::unknown;
  std::string argument;  // the text after the verb and one space, verbatim
};

// The verb is the text before the first space, in any case. An empty line
// or a verb outside the list is Verb::unknown.
Command parse_command(std::string_view line);
// "EHLO", "MAIL", ...; "UNKNOWN" for Verb::unknown. For logs and replies.
std::string_view verb_name(Verb verb);

// The RFC 5321 §4.5.3.1.3 bound on a path, angle brackets included.
inline constexpr std::size_t kMaxPathBytes = 256;

// A reverse-path (MAIL FROM) or forward-path (RCPT TO) with its ESMTP
// parameters (RFC 5321 §4.1.2, RFC 1870, RFC 6152, RFC 6531, RFC 3461,
// RFC 4954).
struct Path {
  // Without the angle brackets and any source route; a quoted local part
  // keeps its quotes ("a b"@example.com). Empty for the null sender <>.
  std::string address;
  // "SIZE=1234", "BODY=8BITMIME", "SMTPUTF8", "NOTIFY=SUCCESS,FAILURE",
  // "ORCPT=rfc822;bob@example.com", ...: verbatim and in order, because the
  // proxy replays them downstream unchanged.
  std::vector<std::string> parameters;
};

// The argument of MAIL: "FROM:<a@b> SIZE=12 BODY=8BITMIME". "FROM:" may be
// in any case and followed by spaces, and the address may come without angle
// brackets: Postfix accepts both (strict_rfc821_envelopes = no, its
// default) and forwards the line as it received it. A SIZE parameter must be
// 1 to 20 digits (RFC 1870). Returns nullopt with *error set on a malformed
// argument.
std::optional<Path> parse_mail_from(std::string_view argument, std::string* error);
// The argument of RCPT: "TO:<x@y> NOTIFY=NEVER ORCPT=rfc822;x@y". The null
// path is refused; a bare local part (<postmaster>) is accepted.
std::optional<Path> parse_rcpt_to(std::string_view argument, std::string* error);
// The value of a parameter, keyword in any case: "" for a keyword without a
// value (SMTPUTF8), nullopt when absent.
std::optional<std::string_view> parameter(const Path& path, std::string_view keyword);

// One XFORWARD attribute: name upper-cased, value xtext-decoded.
// "[UNAVAILABLE]" and "[TEMPUNAVAIL]" come through as they are.
struct XforwardAttribute {
  std::string name;  // NAME ADDR PORT PROTO HELO IDENT SOURCE LOGIN DESTADDR DESTPORT, or other
  std::string value;
};

// The argument of XFORWARD: "NAME=mail.example.net ADDR=192.0.2.1 ...".
// Unknown names are kept, since a newer Postfix may send more. Returns
// nullopt with *error set when an attribute has no '=', an empty name or
// value, malformed xtext, or a control character once decoded.
std::optional<std::vector<XforwardAttribute>> parse_xforward(std::string_view argument,
                                                             std::string* error);

// RFC 3461 §4 xtext: "+XX" for '+', '=' and bytes outside 33..126.
std::string xtext_encode(std::string_view text);
// The inverse; nullopt with *error set on a byte that xtext must escape, on
// '+' without two hex digits after it (either case is accepted).
std::optional<std::string> xtext_decode(std::string_view xtext, std::string* error);

}  // namespace mailsan::filter::smtp
