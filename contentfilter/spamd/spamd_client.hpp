// A client of SpamAssassin's spamd over TCP or a unix socket: one
// connection per request, as spamd closes after each reply. The request
// head comes from spamd_codec, the message is streamed from its
// MessageSpool in 64 KiB pieces (never copied whole), and the reply is
// parsed as it arrives. One deadline covers connecting, writing and reading;
// the caller's cancellation slot (the proxy's scan_timeout, a session going
// away) cuts the exchange short too.
//
// Called by SpamdScanner for each message (SYMBOLS or PROCESS) and, for
// learning, by whoever has a message to TELL spamd about.
//
// SECURITY: the reply is bounded and sanitised by SpamdResponseParser. What
// is sent as User: passes through spamd_user_value(). A spamd that stops
// answering costs one connection until the deadline.
//
// Failures are values, never exceptions: a result that is not ok() says why
// in `error` (the connection failed, the deadline passed, the reply was
// malformed, or spamd answered with a sysexits code). The client must
// outlive the operations it started; it keeps no connection between them,
// so several may run at once.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string>

#include "common/net/endpoint_address.hpp"
#include "contentfilter/spamd/spamd_codec.hpp"
#include "contentfilter/spool/message_spool.hpp"

namespace mailsan::filter {

struct SpamdClientOptions {
  net::EndpointAddress address;  // inet:HOST:PORT or unix:/path
  std::chrono::milliseconds timeout{30000};
  // The longest body a reply may have: a SYMBOLS rule list or, for PROCESS,
  // the rewritten message (the message plus spamd's report); longer is a
  // malformed reply.
  std::uint64_t max_reply_body = 16 * 1024 * 1024;
  // Of a PROCESS reply's body only this much is kept: enough for its head.
  std::uint64_t max_kept_reply_body = 256 * 1024;
};

struct SpamdResult {
  // Empty when spamd answered EX_OK; else why not, for the log and the
  // scan report: "connect to inet:127.0.0.1:783: Connection refused",
  // "timeout after 30 s", "malformed reply: no Spam header", "spamd said 76
  // EX_PROTOCOL: Bad header line: ...".
  std::string error;
  SpamdResponse response;
  bool ok() const { return error.empty(); }
};

class SpamdClient {
 public:
  SpamdClient(boost::asio::any_io_executor ex, SpamdClientOptions options);
  SpamdClient(const SpamdClient&) = delete;
  SpamdClient& operator=(const SpamdClient&) = delete;

  const SpamdClientOptions& options() const { return options_; }

  // CHECK, SYMBOLS or PROCESS the message on behalf of `user` (empty: no
  // User: header, spamd's defaults). The spool must not change until the
  // awaitable completes.
  boost::asio::awaitable<SpamdResult> check(SpamdCommand command, const MessageSpool& message,
                                            std::string user);
  // PING; ok() when spamd said PONG.
  boost::asio::awaitable<SpamdResult> ping();
  // TELL: learn (or forget) the message as spam or ham; spamd must run with
  // --allow-tell. response.did_set / did_remove tell what spamd did.
  boost::asio::awaitable<SpamdResult> tell(SpamdTell tell, const MessageSpool& message,
                                           std::string user);

 private:
  boost::asio::awaitable<SpamdResult> request(SpamdCommand command, std::string head,
                                              const MessageSpool* message);
  boost::asio::awaitable<SpamdResult> connect_and_talk(SpamdCommand command, std::string head,
                                                       const MessageSpool* message);

  boost::asio::any_io_executor executor_;
  SpamdClientOptions options_;
};

}  // namespace mailsan::filter
