// The content pipeline (see content_pipeline.hpp).
#include "contentfilter/pipeline/content_pipeline.hpp"

#include <ctime>
#include <exception>

#include "common/async/fan_out.hpp"
#include "common/log/log.hpp"
#include "common/stats/report_rows.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

std::vector<std::size_t> ContentOutcome::deliver_to() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < recipients.size(); ++i)
    if (recipients[i] == RecipientAction::deliver) out.push_back(i);
  return out;
}

ContentPipeline::ContentPipeline(asio::any_io_executor ex,
                                 std::shared_ptr<const ContentPipelineConfig> config,
                                 ContentServices services)
    : ex_(std::move(ex)), config_(std::move(config)), services_(std::move(services)) {}

asio::awaitable<std::vector<ScanReport>> ContentPipeline::scan(const Envelope& envelope,
                                                               const MessageSpool& message) {
  const auto& scanners = config_->scanners;
  // Shared with the tasks, each of which is its own coroutine.
  auto reports = std::make_shared<std::vector<ScanReport>>(scanners.size());
  const ScanInput input{envelope, message};
  std::vector<async::Task> tasks;
  for (std::size_t i = 0; i < scanners.size(); ++i) {
    tasks.push_back([scanner = scanners[i], input, reports, i]() -> asio::awaitable<void> {
      ScanReport r;
      try {
        r = co_await scanner->scan(input);
      } catch (const std::exception& e) {
        r.completed = false;
        r.error = e.what();
      }
      r.scanner = std::string(scanner->name());
      (*reports)[i] = std::move(r);
    });
  }
  // cancel_and_wait: the scanners read the spool and the envelope, which the
  // caller frees once this returns.
  std::vector<bool> in_time = co_await async::fan_out(
      ex_, std::move(tasks),
      {.deadline = config_->scan_timeout, .at_deadline = async::AtDeadline::cancel_and_wait});
  for (std::size_t i = 0; i < in_time.size(); ++i)
    if (!in_time[i]) {
      (*reports)[i].scanner = std::string(scanners[i]->name());
      (*reports)[i].completed = false;
      (*reports)[i].error = "scan_timeout";
    }
  co_return std::move(*reports);
}

asio::awaitable<ContentOutcome> ContentPipeline::process(const Envelope& envelope,
                                                         const MessageSpool& message) {
  const auto started = Clock::now();
  FilterMetrics& metrics = *services_.metrics;
  std::vector<ScanReport> reports = co_await scan(envelope, message);
  std::vector<FailureMode> modes;
  std::vector<std::string> unavailable;
  for (const auto& s : config_->scanners) {
    modes.push_back(s->failure_mode());
    unavailable.push_back(s->unavailable_reply());
  }
  for (const auto& r : reports)
    if (!r.completed) metrics.scanner_failures(r.scanner).inc();
  Verdict v = decide_verdict(envelope, reports, modes, unavailable, config_->policy);
  metrics.scan_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());

  ContentOutcome out;
  out.scan_time = Clock::now() - started;
  out.headers = std::move(v.headers);
  out.score = v.score;
  out.spam_checked = v.spam_checked;
  out.spam_unchecked = v.spam_unchecked;
  out.virus_unscanned = v.virus_unscanned;
  out.virus = v.virus;
  out.label = v.label;
  out.reason = v.reason;
  out.report = v.report;
  const std::size_t n = envelope.recipients.size();
  if (v.kind != Verdict::Kind::accept) {
    out.recipients.assign(
        n, v.kind == Verdict::Kind::reject ? RecipientAction::reject : RecipientAction::tempfail);
    out.reply = v.reply;
    co_return out;
  }
  out.recipients.assign(n, RecipientAction::deliver);
  // Let through unchecked: counted apart, never as clean.
  if (v.spam_unchecked) metrics.unchecked("spam").inc();
  if (v.virus_unscanned) metrics.unchecked("virus").inc();
  for (std::size_t i : v.quarantine) out.recipients[i] = RecipientAction::quarantine;

  // Quarantine first: once the next hop has the message it cannot be taken
  // back, so a copy that cannot be kept must stop the whole message.
  if (!v.quarantine.empty()) {
    QuarantineRecord record;
    record.time = static_cast<std::int64_t>(std::time(nullptr));
    record.id = new_quarantine_id(record.time);
    record.hostname = config_->hostname;
    record.sender = envelope.sender.address;
    record.sender_parameters = envelope.sender.parameters;
    for (std::size_t i : v.quarantine)
      record.recipients.push_back(
          {envelope.recipients[i].address, envelope.recipients[i].parameters});
    record.helo = envelope.mta_helo;
    record.xforward = xforward_attributes(envelope);
    record.reason = out.reason;
    record.report = out.report;
    record.size = message.size();
    const std::string id = record.id;
    QuarantinePutResult put = co_await services_.quarantine->put(std::move(record), message);
    if (put.files) {
      log::error("quarantine_failed")
          .kv("error", put.files.message())
          .kv("dir", services_.quarantine->store().dir().string());
      out.recipients.assign(n, RecipientAction::tempfail);
      out.label = "tempfail";
      out.reply = "451 4.3.0 Error: cannot quarantine the message now";
      co_return out;
    }
    out.quarantine_id = id;
    metrics.quarantined.inc();
    // The index lets every MX's mailsanctl list it; the files are what
    // counts, so a Redis failure is logged and counted only.
    if (!put.indexed) {
      metrics.redis_errors.inc();
      log::warning("quarantine_index_failed").kv("id", id).kv("error", put.index_error);
    }
  }
  if (v.deliver.empty()) out.reply = "250 2.0.0 Ok: accepted as " + out.quarantine_id;
  co_return out;
}

asio::awaitable<void> ContentPipeline::next_hop_refused(ContentOutcome& outcome) {
  if (outcome.quarantine_id.empty()) co_return;
  co_await services_.quarantine->withdraw(outcome.quarantine_id);
  for (auto& action : outcome.recipients)
    if (action == RecipientAction::quarantine) action = RecipientAction::tempfail;
  outcome.quarantine_id.clear();
}

void ContentPipeline::settled(std::string_view label, std::string_view reply) {
  // The rows of `mailsanctl report`, counted only for answers that settle
  // the message (a 4xx is retried and counted then).
  if (!services_.count_row || reply.empty() || reply.front() == '4') return;
  if (label == "spam") services_.count_row(stats::row::spam);
  if (label == "virus") services_.count_row(stats::row::virus);
  if (label == "tagged") services_.count_row(stats::row::delivered_spam);
  if (label == "clean") services_.count_row(stats::row::delivered_ham);
  if (label == "split") services_.count_row(stats::row::quarantined);
}

}  // namespace mailsan::filter
