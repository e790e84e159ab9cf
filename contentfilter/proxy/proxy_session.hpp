// One connection from Postfix's before-queue smtpd (SPEC §3): the filter
// answers EHLO, XFORWARD, MAIL and RCPT itself, keeping every parameter;
// receives the body into a spool; at end-of-DATA hands it to the content
// pipeline (scanners, verdict, quarantine) and relays what is to be
// delivered to next_hop — and answers 250 only after the next hop said 250. Any failure on the way
// answers 4xx, so the client retries and nothing is lost.
//
// SECURITY: this is the SMTP server side, fed by Postfix but carrying the
// bytes of any client on the Internet. Lines and the message are bounded;
// a bare CR or LF is never taken for a line end (SMTP smuggling), and a
// message containing one is refused.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "common/daemon/listener.hpp"
#include "contentfilter/message/envelope.hpp"
#include "contentfilter/pipeline/content_pipeline.hpp"
#include "contentfilter/proxy/filter_context.hpp"
#include "contentfilter/smtp/command.hpp"
#include "contentfilter/spool/message_spool.hpp"

namespace mailsan::filter {

class ProxySession {
 public:
  // peer: the client as common/daemon/listener describes it, for the logs.
  ProxySession(daemon::StreamSocket socket, std::string peer, FilterContext& context);
  boost::asio::awaitable<void> run();
  // Closes the connection unless a message is being scanned or relayed
  // (SIGTERM: those finish first).
  void close_if_idle();
  bool busy() const { return busy_; }

 private:
  enum class Read { ok, timeout, closed };
  // Reads what comes before `deadline`; *got: the bytes read.
  boost::asio::awaitable<Read> read_more(std::chrono::steady_clock::time_point deadline,
                                         std::size_t* got = nullptr);
  boost::asio::awaitable<bool> reply(std::string text);
  // Returns false when the connection is to be closed.
  boost::asio::awaitable<bool> handle(const smtp::Command& command);
  boost::asio::awaitable<bool> receive_data();
  boost::asio::awaitable<std::string> finish_message(const std::string& decode_error,
                                                     bool too_large, std::error_code spool_error);
  std::string ehlo_reply() const;
  void reset_transaction();

  daemon::StreamSocket socket_;
  FilterContext& context_;
  std::shared_ptr<const FilterSettings> settings_;
  ContentPipeline pipeline_;
  std::string buffer_;
  std::size_t pos_ = 0;  // bytes of buffer_ already parsed
  std::array<char, 64 * 1024> read_chunk_;
  bool busy_ = false;
  bool greeted_ = false;
  bool in_transaction_ = false;
  Envelope envelope_;
  std::unique_ptr<MessageSpool> spool_;
  std::string peer_;
  // Every read and write races this timer in a parallel group, which costs
  // no coroutine of its own per operation (awaitable operators spawn one per
  // side), on the hot path of every command and body chunk.
  boost::asio::steady_timer deadline_timer_;
};

}  // namespace mailsan::filter
