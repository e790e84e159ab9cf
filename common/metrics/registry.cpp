// Metric storage and the Prometheus text exposition format, version 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/
#include "common/metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace mailsan::metrics {

namespace {

// The family types, as the TYPE line spells them.
constexpr std::string_view kCounter = "counter";
constexpr std::string_view kGauge = "gauge";
constexpr std::string_view kHistogram = "histogram";

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(const std::string& name) {
  if (name.empty() || !(is_alpha(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == ':'; });
}

// [a-zA-Z_][a-zA-Z0-9_]*, and "__" is reserved for Prometheus itself.
bool valid_label_name(const std::string& name) {
  if (name.empty() || !is_alpha(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_alpha(c) || is_digit(c); });
}

// Label order must not create a second series, so labels are kept sorted.
Labels canonical(const std::string& metric, Labels labels, bool histogram) {
  std::sort(labels.begin(), labels.end());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& name = labels[i].first;
    if (!valid_label_name(name) || (histogram && name == "le"))
      throw std::invalid_argument(metric + ": invalid label name '" + name + "'");
    if (i > 0 && labels[i - 1].first == name)
      throw std::invalid_argument(metric + ": label '" + name + "' given twice");
  }
  return labels;
}

void append_escaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (quotes && c == '"')
      out += "\\\"";
    else
      out += c;
  }
}

// Shortest text that reads back as the same double, in the style Prometheus
// client libraries use for "le" (0.0001, 2.5, 10, 1e-05).
std::string format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(value);
}

void append_sample(std::string& out, const std::string& name, const Labels& labels,
                   const std::string* le, const std::string& value) {
  out += name;
  if (!labels.empty() || le) {
    out += '{';
    bool first = true;
    for (const auto& [key, label_value] : labels) {
      if (!first) out += ',';
      first = false;
      out += key;
      out += "=\"";
      append_escaped(out, label_value, true);
      out += '"';
    }
    if (le) {
      if (!first) out += ',';
      out += "le=\"" + *le + "\"";
    }
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

struct Registry::Family {
  std::string_view type;
  std::string help;
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
  }
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double seconds) {
  if (std::isnan(seconds)) return;
  // "le" buckets: the first bound that is >= the value; past the last, +Inf.
  auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
                                    bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  // Whole microseconds keep the sum a lock-free integer; a clock step backwards
  // must not subtract, and a runaway value must not overflow the conversion.
  double micros = std::clamp(seconds * 1e6, 0.0, 1e15);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::llround(micros)),
                        std::memory_order_relaxed);
}

std::uint64_t Histogram::bucket_count(std::size_t i) const {
  return i <= bounds_.size() ? buckets_[i].load(std::memory_order_relaxed) : 0;
}

double Histogram::sum() const {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

namespace {

template <typename Metric, typename Make>
Metric& find_or_create(std::map<Labels, std::unique_ptr<Metric>>& series, Labels labels,
                       Make make) {
  auto it = series.find(labels);
  if (it == series.end()) it = series.emplace(std::move(labels), make()).first;
  return *it->second;
}

}  // namespace

// A name reused with another type is a bug in the caller, reported at once
// rather than rendered as output Prometheus would reject.
Registry::Family& Registry::family(const std::string& name, const std::string& help,
                                   std::string_view type) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  auto& slot = families_[name];
  if (!slot) slot = std::make_unique<Family>(Family{type, help, {}, {}, {}});
  if (slot->type != type)
    throw std::logic_error("metric '" + name + "' is already registered as a " +
                           std::string(slot->type));
  return *slot;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  Labels key = canonical(name, labels, false);
  std::lock_guard lock(mutex_);
  return find_or_create(family(name, help, kCounter).counters, std::move(key),
                        [] { return std::make_unique<Counter>(); });
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  Labels key = canonical(name, labels, false);
  std::lock_guard lock(mutex_);
  return find_or_create(family(name, help, kGauge).gauges, std::move(key),
                        [] { return std::make_unique<Gauge>(); });
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const Labels& labels, std::vector<double> bounds) {
  Labels key = canonical(name, labels, true);
  std::lock_guard lock(mutex_);
  return find_or_create(family(name, help, kHistogram).histograms, std::move(key),
                        [&] { return std::make_unique<Histogram>(std::move(bounds)); });
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    if (!family->help.empty()) {
      out += "# HELP " + name + " ";
      append_escaped(out, family->help, false);
      out += '\n';
    }
    out += "# TYPE " + name + " " + std::string(family->type) + "\n";
    for (const auto& [labels, counter] : family->counters)
      append_sample(out, name, labels, nullptr, std::to_string(counter->value()));
    for (const auto& [labels, gauge] : family->gauges)
      append_sample(out, name, labels, nullptr, std::to_string(gauge->value()));
    for (const auto& [labels, histogram] : family->histograms) {
      // Buckets are stored per interval and summed here, so that +Inf and
      // _count agree even while other threads observe during a scrape.
      std::uint64_t cumulative = 0;
      const auto& bounds = histogram->bounds();
      for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += histogram->bucket_count(i);
        std::string le = i < bounds.size() ? format_double(bounds[i]) : "+Inf";
        append_sample(out, name + "_bucket", labels, &le, std::to_string(cumulative));
      }
      append_sample(out, name + "_sum", labels, nullptr, format_double(histogram->sum()));
      append_sample(out, name + "_count", labels, nullptr, std::to_string(cumulative));
    }
  }
  return out;
}

Registry::Registry() = default;
Registry::~Registry() = default;

}  // namespace mailsan::metrics
