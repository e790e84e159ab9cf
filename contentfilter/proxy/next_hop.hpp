// Hands an accepted message to the after-filter smtpd (SPEC §3, next_hop):
// EHLO, XFORWARD with what Postfix told us about the client (so the queued
// message's Received: header names the real client), MAIL with every
// parameter, the accepted recipients, DATA, the added headers, the body
// dot-stuffed again. Only a 250 to the body counts as delivered; everything
// else is a failure the caller turns into a 4xx, so nothing is lost.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "contentfilter/message/envelope.hpp"
#include "contentfilter/spool/message_spool.hpp"

namespace mailsan::filter {

struct RelayOutcome {
  bool delivered = false;
  std::string reply;  // the next hop's last reply ("250 2.0.0 Ok: queued as 4Xy..."), or why not
};

struct RelayRequest {
  boost::asio::ip::tcp::endpoint next_hop;
  std::chrono::milliseconds timeout{60000};  // per step
  std::string helo;                          // our EHLO name
  const Envelope* envelope = nullptr;
  std::vector<std::size_t> recipients;  // indexes into envelope->recipients
  std::vector<std::string> headers;     // "Name: value" lines to put on top
  const MessageSpool* message = nullptr;
};

// Dot-stuffs `in` for the wire: a '.' at the start of a line gets another.
// at_line_start carries the state across chunks (true at the message start).
void dot_stuff(std::string_view in, bool& at_line_start, std::string& out);

// XFORWARD command lines for the attributes the next hop announced, each
// within 512 bytes (RFC 5321's line limit, which Postfix enforces).
std::vector<std::string> xforward_lines(const Envelope& envelope,
                                        const std::vector<std::string>& announced);

boost::asio::awaitable<RelayOutcome> relay_message(boost::asio::any_io_executor ex,
                                                   RelayRequest request);

}  // namespace mailsan::filter
