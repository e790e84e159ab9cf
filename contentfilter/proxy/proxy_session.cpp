#include "contentfilter/proxy/proxy_session.hpp"

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/log/log.hpp"
#include "contentfilter/message/owned_headers.hpp"
#include "contentfilter/proxy/next_hop.hpp"
#include "contentfilter/smtp/data_decoder.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kXforwardNames = "NAME ADDR PORT PROTO HELO IDENT SOURCE LOGIN DESTADDR DESTPORT";

std::string recipients_of(const Envelope& e) {
  std::string out;
  for (const auto& r : e.recipients) out += (out.empty() ? "" : ",") + r.address;
  return out;
}

}  // namespace

ProxySession::ProxySession(daemon::StreamSocket socket, std::string peer, FilterContext& context)
    : socket_(std::move(socket)),
      context_(context),
      settings_(context.settings),
      pipeline_(context.executor,
                // The pipeline's part of the settings, kept alive with them.
                std::shared_ptr<const ContentPipelineConfig>(settings_, &settings_->content),
                ContentServices{context.quarantine, context.metrics,
                                [counters = context.counters](std::string_view row) {
                                  if (counters) counters->add(row);
                                }}),
      peer_(std::move(peer)),
      deadline_timer_(socket_.get_executor()) {
  const FilterConfig& c = settings_->config;
  spool_ =
      std::make_unique<MessageSpool>(static_cast<std::size_t>(c.spool_memory_limit), c.spool_dir);
}

void ProxySession::close_if_idle() {
  if (busy_) return;
  boost::system::error_code ignored;
  socket_.cancel(ignored);
  socket_.close(ignored);
}

asio::awaitable<ProxySession::Read> ProxySession::read_more(Clock::time_point deadline,
                                                            std::size_t* got) {
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  // Read into a fixed buffer and append what came: resizing buffer_ by a
  // whole chunk first would zero 64 KiB for every command line.
  deadline_timer_.expires_at(deadline);
  auto [order, ec, n, timer_ec] =
      co_await asio::experimental::make_parallel_group(
          socket_.async_read_some(asio::buffer(read_chunk_.data(), read_chunk_.size()),
                                  asio::deferred),
          deadline_timer_.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  if (order[0] == 1) co_return Read::timeout;
  if (ec || n == 0) co_return Read::closed;
  buffer_.append(read_chunk_.data(), n);
  if (got) *got = n;
  co_return Read::ok;
}

asio::awaitable<bool> ProxySession::reply(std::string text) {
  text += "\r\n";
  deadline_timer_.expires_after(settings_->config.command_timeout);
  auto [order, ec, n, timer_ec] =
      co_await asio::experimental::make_parallel_group(
          asio::async_write(socket_, asio::buffer(text), asio::deferred),
          deadline_timer_.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  co_return order[0] == 0 && !ec;
}

std::string ProxySession::ehlo_reply() const {
  const FilterConfig& c = settings_->config;
  return "250-" + settings_->hostname + "\r\n250-SIZE " + std::to_string(c.message_size_limit) +
         "\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250 XFORWARD " +
         kXforwardNames;
}

void ProxySession::reset_transaction() {
  in_transaction_ = false;
  envelope_.sender = {};
  envelope_.recipients.clear();
  // XFORWARD describes the next transaction only (XFORWARD_README).
  envelope_.xforward.clear();
  envelope_.client_address.clear();
  envelope_.client_name.clear();
  envelope_.client_helo.clear();
  envelope_.protocol.clear();
  spool_->reset();
}

asio::awaitable<void> ProxySession::run() {
  context_.metrics->connections_total.inc();
  context_.metrics->connections.inc();
  struct Gauge {
    FilterMetrics* m;
    ~Gauge() { m->connections.inc(-1); }
  } gauge{context_.metrics};

  if (!co_await reply("220 " + settings_->hostname + " ESMTP mailsan-filter")) co_return;
  smtp::LineReader reader;
  // command_timeout bounds a whole command: the wait for it and every read
  // of it, so a client trickling a byte at a time cannot hold the
  // connection for ever (as Postfix's smtpd_per_request_deadline).
  auto command_deadline = Clock::now() + settings_->config.command_timeout;
  for (;;) {
    std::size_t consumed = 0;
    auto status = reader.feed(std::string_view(buffer_).substr(pos_), consumed);
    pos_ += consumed;
    if (status == smtp::LineReader::Status::incomplete) {
      Read r = co_await read_more(command_deadline);
      if (r == Read::timeout) {
        co_await reply("421 4.4.2 " + settings_->hostname + " Error: timeout exceeded");
        co_return;
      }
      if (r == Read::closed) co_return;
      continue;
    }
    if (status == smtp::LineReader::Status::error) {
      // A command line that is too long or holds a bare CR or LF cannot be
      // resynchronised safely: say why and hang up.
      log::warning("smtp_error").kv("peer", peer_).kv("error", reader.error());
      co_await reply("421 4.5.2 " + settings_->hostname + " Error: " + std::string(reader.error()));
      co_return;
    }
    smtp::Command command = smtp::parse_command(reader.line());
    if (!co_await handle(command)) co_return;
    command_deadline = Clock::now() + settings_->config.command_timeout;
  }
}

asio::awaitable<bool> ProxySession::handle(const smtp::Command& command) {
  using smtp::Verb;
  const FilterConfig& c = settings_->config;
  std::string error;
  switch (command.verb) {
    case Verb::ehlo:
    case Verb::helo:
      if (command.argument.empty()) co_return co_await reply("501 5.5.4 Syntax: EHLO hostname");
      reset_transaction();
      greeted_ = true;
      envelope_.mta_helo = command.argument;
      if (command.verb == Verb::helo) co_return co_await reply("250 " + settings_->hostname);
      co_return co_await reply(ehlo_reply());
    case Verb::xforward: {
      if (in_transaction_)
        co_return co_await reply("503 5.5.1 Error: MAIL transaction in progress");
      auto attributes = smtp::parse_xforward(command.argument, &error);
      if (!attributes) co_return co_await reply("501 5.5.4 Bad XFORWARD syntax: " + error);
      add_xforward(envelope_, std::move(*attributes));
      co_return co_await reply("250 2.0.0 Ok");
    }
    case Verb::mail: {
      if (!greeted_) co_return co_await reply("503 5.5.1 Error: send HELO/EHLO first");
      if (in_transaction_) co_return co_await reply("503 5.5.1 Error: nested MAIL command");
      auto path = smtp::parse_mail_from(command.argument, &error);
      if (!path) co_return co_await reply("501 5.5.4 Syntax error in MAIL: " + error);
      if (auto size = smtp::parameter(*path, "SIZE")) {
        std::uint64_t declared = 0;
        for (char ch : *size) declared = declared * 10 + static_cast<unsigned>(ch - '0');
        if (size->size() > 19 || declared > static_cast<std::uint64_t>(c.message_size_limit))
          co_return co_await reply("552 5.3.4 Message size exceeds fixed limit");
      }
      envelope_.sender = std::move(*path);
      in_transaction_ = true;
      co_return co_await reply("250 2.1.0 Ok");
    }
    case Verb::rcpt: {
      if (!in_transaction_) co_return co_await reply("503 5.5.1 Error: need MAIL command");
      auto path = smtp::parse_rcpt_to(command.argument, &error);
      if (!path) co_return co_await reply("501 5.5.4 Syntax error in RCPT: " + error);
      if (envelope_.recipients.size() >= static_cast<std::size_t>(c.max_recipients))
        co_return co_await reply("452 4.5.3 Error: too many recipients");
      envelope_.recipients.push_back(std::move(*path));
      co_return co_await reply("250 2.1.5 Ok");
    }
    case Verb::data:
      if (!in_transaction_ || envelope_.recipients.empty())
        co_return co_await reply("503 5.5.1 Error: need RCPT command");
      if (!command.argument.empty()) co_return co_await reply("501 5.5.4 Syntax: DATA");
      co_return co_await receive_data();
    case Verb::rset:
      reset_transaction();
      co_return co_await reply("250 2.0.0 Ok");
    case Verb::noop:
      co_return co_await reply("250 2.0.0 Ok");
    case Verb::quit:
      co_await reply("221 2.0.0 Bye");
      co_return false;
    case Verb::vrfy:
      co_return co_await reply("502 5.5.1 VRFY command is disabled");
    case Verb::bdat:
    case Verb::starttls:
    case Verb::auth:
      co_return co_await reply("502 5.5.1 Error: command not implemented");
    case Verb::unknown:
      break;
  }
  co_return co_await reply("500 5.5.2 Error: command not recognized");
}

asio::awaitable<bool> ProxySession::receive_data() {
  const FilterConfig& c = settings_->config;
  if (!co_await reply("354 End data with <CR><LF>.<CR><LF>")) co_return false;
  busy_ = true;
  struct Idle {
    bool& busy;
    ~Idle() { busy = false; }
  } idle{busy_};
  smtp::DataDecoder decoder(static_cast<std::uint64_t>(c.message_size_limit));
  // Incoming copies of the headers we write never reach the scanners, the
  // quarantine or the next hop (SPEC §3).
  std::vector<std::string> exempt;
  if (c.marker.enable) exempt.push_back(c.marker.header);
  OwnedHeaderFilter owned_headers(std::move(exempt));
  std::string unstuffed, wire, kept;
  std::error_code spool_error;
  auto data_deadline = Clock::now() + c.data_timeout;
  for (;;) {
    std::size_t consumed = 0;
    auto status = decoder.feed(std::string_view(buffer_).substr(pos_), consumed, unstuffed, wire);
    pos_ += consumed;
    wire.clear();
    // Past the headers the body goes to the spool as it came, uncopied.
    const bool body = owned_headers.in_body();
    if (!body) owned_headers.feed(unstuffed, kept);
    if (status == smtp::DataDecoder::Status::done) owned_headers.finish(kept);
    const std::string& piece = body ? unstuffed : kept;
    if (!piece.empty() && !spool_error) spool_error = spool_->append(piece);
    unstuffed.clear();
    kept.clear();
    if (status == smtp::DataDecoder::Status::done) break;
    // Each read may wait data_timeout; the whole DATA phase ends
    // data_timeout after it began plus one second per data_min_rate bytes
    // received, so a trickle is cut off while a large message sent at any
    // reasonable rate is not (Postfix's smtpd_min_data_rate).
    std::size_t got = 0;
    const auto per_read = Clock::now() + c.data_timeout;
    Read r = co_await read_more(c.data_min_rate > 0 ? std::min(per_read, data_deadline) : per_read,
                                &got);
    if (c.data_min_rate > 0)
      data_deadline += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
          static_cast<double>(got) / static_cast<double>(c.data_min_rate)));
    if (r == Read::timeout) {
      co_await reply("421 4.4.2 " + settings_->hostname + " Error: timeout exceeded");
      co_return false;
    }
    if (r == Read::closed) co_return false;
  }
  context_.metrics->message_bytes.inc(decoder.bytes());
  if (owned_headers.removed_count() > 0) {
    context_.metrics->owned_headers_removed.inc(owned_headers.removed_count());
    std::string names;
    for (const auto& n : owned_headers.removed()) names += (names.empty() ? "" : ",") + n;
    log::info("owned_headers_removed")
        .kv("peer", peer_)
        .kv("client", envelope_.client_address)
        .kv("count", static_cast<std::uint64_t>(owned_headers.removed_count()))
        .kv("names", names);
  }
  std::string answer =
      co_await finish_message(std::string(decoder.error()), decoder.too_large(), spool_error);
  reset_transaction();
  co_return co_await reply(std::move(answer));
}

asio::awaitable<std::string> ProxySession::finish_message(const std::string& decode_error,
                                                          bool too_large,
                                                          std::error_code spool_error) {
  const FilterConfig& c = settings_->config;
  log::Line line(log::Level::info, "message");
  line.kv("peer", peer_)
      .kv("client", envelope_.client_address)
      .kv("helo", envelope_.client_helo)
      .kv("sender", envelope_.sender.address)
      .kv("rcpt", recipients_of(envelope_))
      .kv("size", static_cast<std::uint64_t>(spool_->size()));
  if (!spool_->in_memory()) context_.metrics->spooled_to_disk.inc();
  auto finish = [&](const std::string& verdict, std::string answer) {
    context_.metrics->messages(verdict).inc();
    pipeline_.settled(verdict, answer);
    line.kv("verdict", verdict).kv("reply", answer);
    return answer;
  };
  if (!decode_error.empty())
    co_return finish("malformed", "550 5.6.0 Message rejected: " + decode_error);
  if (too_large) co_return finish("too_large", "552 5.3.4 Message size exceeds fixed limit");
  if (spool_error) {
    log::error("spool_failed").kv("error", spool_error.message()).kv("dir", c.spool_dir);
    co_return finish("tempfail", "451 4.3.0 Error: cannot store the message now");
  }

  ContentOutcome outcome = co_await pipeline_.process(envelope_, *spool_);
  line.kv("score", outcome.spam_checked ? format_score(outcome.score) : std::string("-"))
      .kv("reason", outcome.reason)
      .kv("scan_ms", outcome.scan_time.count());
  if (outcome.virus) line.kv("virus", *outcome.virus);
  if (!outcome.quarantine_id.empty()) line.kv("quarantine", outcome.quarantine_id);
  if (outcome.settled()) co_return finish(outcome.label, outcome.reply);

  RelayRequest request;
  request.next_hop = settings_->next_hop;
  request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(c.next_hop_timeout);
  request.helo = settings_->hostname;
  request.envelope = &envelope_;
  request.recipients = outcome.deliver_to();
  request.headers = outcome.headers;
  request.message = spool_.get();
  RelayOutcome relayed = co_await relay_message(context_.executor, std::move(request));
  line.kv("next_hop", relayed.reply);
  if (!relayed.delivered) {
    context_.metrics->next_hop_failures.inc();
    log::warning("next_hop_failed").kv("reply", relayed.reply);
    co_await pipeline_.next_hop_refused(outcome);
    co_return finish("tempfail", c.downstream_failure_reply);
  }
  co_return finish(outcome.label, relayed.reply);
}

}  // namespace mailsan::filter
