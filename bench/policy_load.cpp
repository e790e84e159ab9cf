// policy_load: load generator for the Postfix policy delegation protocol
// (SMTPD_POLICY_README), used by bench/run-policy to compare policy servers.
//
// It keeps a fixed number of persistent connections open and exactly one
// request outstanding on each, which is how Postfix's smtpd processes talk to
// a check_policy_service server. Requests are what Postfix 3.7 sends at RCPT
// time, drawn from a deterministic pool of distinct (client, sender,
// recipient) triplets, so every server under test sees the same load.
//
// One thread and level-triggered epoll: the server and this generator share
// two cores, so every cycle spent here is taken from the server being
// measured. Requests are pre-rendered per triplet and only the per-message
// fields (queue_id, instance) are patched in place before each write; a
// reply costs one read() and a scan for the blank line. The generator
// reports its own CPU use so a run can show it was not the bottleneck.
//
// Not part of any daemon; it talks only to the server it is pointed at.

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

// ---------------------------------------------------------------- options

struct Options {
  std::string connect;
  int connections = 64;
  double duration_s = 0;       // 0: not given
  std::uint64_t requests = 0;  // 0: not given
  std::size_t triplets = 10000;
  double warmup_s = 0;
  double timeout_s = 10;  // Postfix's default policy timeout in the shipped wiring
  std::uint64_t seed = 1;
  bool json = false;
  bool warmup_pool = false;     // warm up until every triplet was answered once
  bool print_clients = false;   // print the pool's client addresses and exit
  std::vector<int> watch_pids;  // the server (and its backends) whose CPU use is reported
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "policy_load: %s (try --help)\n", message.c_str());
  std::exit(2);
}

void print_help() {
  std::printf(
      "usage: policy_load --connect inet:HOST:PORT|unix:PATH [options]\n"
      "\n"
      "Sends Postfix policy requests (protocol_state=RCPT) over persistent\n"
      "connections, one request outstanding per connection, and reports\n"
      "throughput, latency percentiles, errors and the actions answered.\n"
      "\n"
      "  --connect ADDR       policy server, inet:HOST:PORT or unix:PATH\n"
      "  --connections N      persistent connections (default 64)\n"
      "  --duration SECONDS   measure for this long (default 10 unless --requests)\n"
      "  --requests N         measure exactly N requests instead\n"
      "  --warmup SECONDS     run this long first without measuring (default 0)\n"
      "  --warmup-pool        and on until every triplet of the pool was answered\n"
      "                       once, so a server's caches hold all of them (at most\n"
      "                       120 s longer; the JSON reports any left out)\n"
      "  --triplets N         distinct client/sender/recipient triplets (default 10000)\n"
      "  --seed N             pool generator seed (default 1)\n"
      "  --watch-pid PID      report this process's CPU use in the measured window\n"
      "                       (repeatable; the rest of the machine's is reported too)\n"
      "  --timeout SECONDS    a reply slower than this is an error, and a run\n"
      "                       with no reply for this long ends (default 10)\n"
      "  --json               print one JSON object instead of text\n"
      "  --print-clients      print the pool's distinct client addresses, one a\n"
      "                       line, and exit (takes --triplets and --seed)\n");
}

double parse_number(std::string_view name, std::string_view text, double min, double max) {
  // std::from_chars for double is in libstdc++ 11+, which Debian 12 has.
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !(value >= min && value <= max))
    usage_error(std::string(name) + ": bad value '" + std::string(text) + "'");
  return value;
}

std::uint64_t parse_count(std::string_view name, std::string_view text, std::uint64_t min,
                          std::uint64_t max) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
    usage_error(std::string(name) + ": bad value '" + std::string(text) + "'");
  return value;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_inline_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline_value = true;
    }
    auto next = [&]() -> std::string_view {
      if (has_inline_value) return value;
      if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      print_help();
      std::exit(0);
    } else if (arg == "--connect") {
      o.connect = next();
    } else if (arg == "--connections") {
      o.connections = static_cast<int>(parse_count(arg, next(), 1, 100000));
    } else if (arg == "--duration") {
      o.duration_s = parse_number(arg, next(), 0.001, 1e7);
    } else if (arg == "--requests") {
      o.requests = parse_count(arg, next(), 1, UINT64_MAX / 2);
    } else if (arg == "--triplets") {
      o.triplets = parse_count(arg, next(), 1, 100000000);
    } else if (arg == "--warmup") {
      o.warmup_s = parse_number(arg, next(), 0, 1e7);
    } else if (arg == "--timeout") {
      o.timeout_s = parse_number(arg, next(), 0.001, 1e6);
    } else if (arg == "--seed") {
      o.seed = parse_count(arg, next(), 0, UINT64_MAX);
    } else if (arg == "--watch-pid") {
      o.watch_pids.push_back(static_cast<int>(parse_count(arg, next(), 1, 1 << 22)));
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg == "--warmup-pool") {
      o.warmup_pool = true;
    } else if (arg == "--print-clients") {
      o.print_clients = true;
    } else {
      usage_error("unknown option " + std::string(arg));
    }
  }
  if (o.print_clients) return o;
  if (o.connect.empty()) usage_error("--connect is required");
  if (o.duration_s > 0 && o.requests > 0)
    usage_error("--duration and --requests exclude each other");
  if (o.duration_s == 0 && o.requests == 0) o.duration_s = 10;
  return o;
}

// ---------------------------------------------------------------- address

struct ServerAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

ServerAddress resolve(const std::string& spec) {
  ServerAddress address;
  if (spec.starts_with("unix:")) {
    std::string path = spec.substr(5);
    sockaddr_un un{};
    if (path.empty() || path.size() >= sizeof un.sun_path)
      usage_error("bad unix path in --connect");
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    std::memcpy(&address.storage, &un, sizeof un);
    address.length = sizeof un;
    address.family = AF_UNIX;
    return address;
  }
  if (!spec.starts_with("inet:")) usage_error("--connect wants inet:HOST:PORT or unix:PATH");
  std::string rest = spec.substr(5);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) usage_error("--connect wants inet:HOST:PORT");
  std::string host = rest.substr(0, colon);
  std::string port = rest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0 || !found)
    usage_error("cannot resolve " + rest + ": " + gai_strerror(rc));
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  address.family = found->ai_family;
  freeaddrinfo(found);
  return address;
}

// ---------------------------------------------------------------- time

using Nanos = std::int64_t;

Nanos now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Nanos{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

Nanos seconds_to_ns(double s) {
  return static_cast<Nanos>(s * 1e9);
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// CPU time from /proc in clock ticks. A benchmark on a shared machine is
// only as good as its knowledge of who else was using the cores, so the
// window's CPU use is split into this process, the watched ones, and the rest.
struct CpuSnapshot {
  double self_s = 0;
  std::uint64_t machine_busy = 0;      // ticks, all cores
  std::vector<std::uint64_t> watched;  // ticks, per watched process
};

std::uint64_t process_ticks(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char buf[1024];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses; fields resume after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p) return 0;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
      2)
    return 0;
  return utime + stime;
}

std::uint64_t machine_busy_ticks() {
  FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long v[8] = {};
  int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                        &v[3], &v[4], &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (got != 8) return 0;
  // user nice system idle iowait irq softirq steal: all but idle and iowait
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

CpuSnapshot cpu_snapshot(const std::vector<int>& watch_pids) {
  CpuSnapshot snap;
  snap.self_s = cpu_seconds();
  snap.machine_busy = machine_busy_ticks();
  for (int pid : watch_pids) snap.watched.push_back(process_ticks(pid));
  return snap;
}

// ---------------------------------------------------------------- triplets

// splitmix64: a fixed, portable generator, so a pool is the same on every
// machine and every run with the same seed.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Letters rather than digits make each triplet's sender unique: greylisters
// fold digit runs in a local part (VERP), which would merge senders that
// differ only in a number.
std::string letters(std::uint64_t n) {
  std::string out;
  do {
    out.push_back(static_cast<char>('a' + n % 26));
    n /= 26;
  } while (n != 0);
  return out;
}

constexpr std::string_view kLower = "0123456789abcdef";
constexpr std::string_view kUpper = "0123456789ABCDEF";

void put_hex(char* at, std::uint64_t value, int width, std::string_view digits) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = digits[value & 0xf];
    value >>= 4;
  }
}

// One pre-rendered request; queue_id and instance change per request (each
// request stands for a new delivery attempt) and are patched at fixed offsets.
struct RequestTemplate {
  std::string text;
  std::size_t queue_id_at = 0;  // 10 upper-case hex digits
  std::size_t instance_at = 0;  // "cccc.ssssssss.sssss.0"
};

constexpr int kQueueIdWidth = 10;

RequestTemplate make_request(std::size_t index, std::uint64_t seed, std::size_t pool_size) {
  std::uint64_t h = mix(seed * 0x100000001b3ULL ^ index);
  auto pick = [&h](std::uint64_t n) {
    h = mix(h);
    return h % n;
  };

  // Clients come from 198.18.0.0/15 (RFC 2544, set aside for benchmarks):
  // 512 /24 networks, so greylisting by network sees ~20 triplets per net
  // at the default pool size.
  std::uint64_t network = pick(512);
  std::uint64_t host = 1 + pick(254);
  std::string client_address = "198." + std::to_string(18 + network / 256) + "." +
                               std::to_string(network % 256) + "." + std::to_string(host);

  std::string sender_domain = "mail" + letters(pick(2000)) + ".example";
  bool has_rdns = pick(10) != 0;
  std::string client_name =
      has_rdns ? "mx" + std::to_string(host) + "." + sender_domain : std::string("unknown");
  std::string helo_name = has_rdns ? client_name : "[" + client_address + "]";

  // Sender shapes a real MX sees; the letter code keeps each one distinct.
  std::string code = letters(index);
  std::string sender;
  std::string recipient;
  std::uint64_t shape = pick(100);
  if (shape < 2) {
    sender = "";  // a DSN; make the triplet unique through the recipient
    recipient = "dsn-" + code + "@bench.test";
  } else {
    if (shape < 80)
      sender = "user-" + code + "@" + sender_domain;
    else if (shape < 88)
      sender =
          "bounces-" + code + "-" + std::to_string(100000 + pick(900000)) + "@" + sender_domain;
    else if (shape < 94)
      sender =
          "prvs=1" + std::to_string(100 + pick(900)) + "a1b2c3=news-" + code + "@" + sender_domain;
    else
      sender = "user-" + code + "+list" + std::to_string(pick(50)) + "@" + sender_domain;
    recipient = "rcpt-" + letters(pick(pool_size / 3 + 1)) + "@bench.test";
  }

  bool tls = pick(2) == 0;
  RequestTemplate t;
  std::string& r = t.text;
  r.reserve(768);
  r += "request=smtpd_access_policy\n";
  r += "protocol_state=RCPT\n";
  r += "protocol_name=ESMTP\n";
  r += "helo_name=" + helo_name + "\n";
  r += "queue_id=";
  t.queue_id_at = r.size();
  r += std::string(kQueueIdWidth, '0') + "\n";
  r += "sender=" + sender + "\n";
  r += "recipient=" + recipient + "\n";
  r += "recipient_count=0\n";
  r += "client_address=" + client_address + "\n";
  r += "client_name=" + client_name + "\n";
  r += "reverse_client_name=" + client_name + "\n";
  r += "instance=";
  t.instance_at = r.size();
  r += "0000.00000000.00000.0\n";
  r += "sasl_method=\nsasl_username=\nsasl_sender=\n";
  r += "size=" + std::to_string(2000 + pick(200000)) + "\n";
  r += "ccert_subject=\nccert_issuer=\nccert_fingerprint=\n";
  r += tls ? "encryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\n"
             "encryption_keysize=256\n"
           : "encryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n";
  r += "etrn_domain=\nstress=\nccert_pubkey_fingerprint=\n";
  r += "client_port=" + std::to_string(1024 + pick(64000)) + "\n";
  r += "policy_context=\n";
  r += "server_address=192.0.2.25\nserver_port=25\n";
  r += "\n";
  return t;
}

// ---------------------------------------------------------------- results

// Log-linear histogram of nanoseconds: 128 sub-buckets per power of two keep
// every reported percentile within 0.8% without storing each sample.
class LatencyHistogram {
 public:
  void record(Nanos value) {
    auto v = static_cast<std::uint64_t>(std::max<Nanos>(value, 0));
    ++counts_[index_of(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void clear() {
    counts_.fill(0);
    total_ = 0;
    max_ = 0;
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t max() const { return max_; }
  // The value at or below which `fraction` of the samples lie (bucket midpoint).
  std::uint64_t percentile(double fraction) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(total_)));
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(midpoint_of(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int kSubBits = 7;
  static constexpr std::uint64_t kSub = 1ULL << kSubBits;
  static std::size_t index_of(std::uint64_t v) {
    if (v < kSub) return v;
    int shift = std::bit_width(v) - kSubBits - 1;
    return (static_cast<std::size_t>(shift + 1) << kSubBits) + ((v >> shift) - kSub);
  }
  static std::uint64_t midpoint_of(std::size_t index) {
    if (index < kSub) return index;
    int shift = static_cast<int>(index >> kSubBits) - 1;
    std::uint64_t low = (kSub + (index & (kSub - 1))) << shift;
    return low + ((1ULL << shift) >> 1);
  }
  std::array<std::uint64_t, (64 - kSubBits) * kSub> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// The first word of each action, upper-cased: "DEFER_IF_PERMIT", "DUNNO",
// "PREPEND", "450", ... Few distinct words occur, so a flat list is fastest.
class ActionCounts {
 public:
  void add(std::string_view action) {
    auto word = action.substr(0, action.find_first_of(" \t"));
    char upper[48];
    std::size_t n = std::min(word.size(), sizeof upper);
    for (std::size_t i = 0; i < n; ++i) {
      char c = word[i];
      upper[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    std::string_view key(upper, n);
    for (auto& [name, count] : counts_)
      if (name == key) {
        ++count;
        return;
      }
    counts_.emplace_back(std::string(key), 1);
  }
  void clear() { counts_.clear(); }
  std::vector<std::pair<std::string, std::uint64_t>> sorted() const {
    auto out = counts_;
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.second > b.second; });
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::uint64_t>> counts_;
};

struct ErrorCounts {
  std::uint64_t connect = 0;   // connect() failed or was refused
  std::uint64_t closed = 0;    // server closed or reset with a request outstanding
  std::uint64_t timeout = 0;   // no complete reply within --timeout
  std::uint64_t protocol = 0;  // reply without action=, oversized, or unrequested data
  std::uint64_t total() const { return connect + closed + timeout + protocol; }
};

// ---------------------------------------------------------------- the run

enum class ConnState { idle, connecting, waiting_reply, reconnect_pending };

struct Connection {
  int fd = -1;
  ConnState state = ConnState::idle;
  std::string out;
  std::size_t out_done = 0;
  std::vector<char> in;
  std::size_t in_used = 0;
  Nanos sent_at = 0;
  Nanos retry_at = 0;
  std::size_t triplet = 0;  // pool index of the request outstanding
  bool counted = false;     // request was issued inside the measured window (--requests)
  bool ramping = false;     // opened at start-up and not yet answered
};

constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kMaxReply = 64 * 1024;  // the protocol's own request bound, mirrored
constexpr Nanos kReconnectDelay = 100'000'000;
constexpr Nanos kDrainLimit = 2'000'000'000;
// Connections are opened a few at a time, each batch once the previous one
// is answered: grossd listens with a backlog of 5, and 64 simultaneous
// connects overflow it into SYN retransmissions that stall connections for
// seconds, which would be measured as the server's latency.
constexpr int kRampBurst = 4;
// A --warmup-pool warmup that has not covered the pool after this much more
// than --warmup (a triplet whose requests keep failing) measures anyway.
constexpr Nanos kPoolWarmupLimit = 120'000'000'000;

class LoadRun {
 public:
  LoadRun(const Options& options, ServerAddress address)
      : options_(options), address_(address), connections_(options.connections) {
    pool_.reserve(options.triplets);
    for (std::size_t i = 0; i < options.triplets; ++i)
      pool_.push_back(make_request(i, options.seed, options.triplets));
    next_triplet_ = mix(options.seed);
    if (options.warmup_pool) {
      pool_answered_.assign(pool_.size(), false);
      pool_left_ = pool_.size();
    }
  }

  int run();

 private:
  enum class Phase { warmup, measure, drain };

  void ramp(Nanos now);
  void end_ramp(Connection& c);
  void open(std::size_t id, Nanos now);
  void fail(std::size_t id, Nanos now, std::uint64_t ErrorCounts::*kind);
  void send_next(std::size_t id, Nanos now);
  void flush(std::size_t id, Nanos now);
  void on_readable(std::size_t id);
  void on_reply(std::size_t id, std::string_view reply, Nanos now);
  void start_measuring(Nanos now);
  void stop_measuring(Nanos now);
  void finish_if_done(Nanos now);
  bool may_issue() const;
  bool counts_in_window(const Connection& c) const;
  bool all_quiet() const;
  void watch(int fd, std::uint32_t events, std::size_t id, int op);
  void report() const;

  const Options& options_;
  ServerAddress address_;
  std::vector<Connection> connections_;
  std::vector<RequestTemplate> pool_;
  std::uint64_t next_triplet_ = 0;
  std::uint64_t sequence_ = 0;
  std::vector<bool> pool_answered_;  // --warmup-pool: triplets answered in the warmup
  std::size_t pool_left_ = 0;
  Nanos begin_ = 0;
  int epoll_ = -1;
  std::size_t next_to_open_ = 0;
  int ramping_ = 0;

  Phase phase_ = Phase::warmup;
  Nanos measure_start_ = 0;
  Nanos measure_end_ = 0;
  CpuSnapshot cpu_start_;
  CpuSnapshot cpu_end_;
  std::uint64_t issued_ = 0;     // in the measured window
  std::uint64_t completed_ = 0;  // replies to requests issued in the window
  std::uint64_t failed_ = 0;     // requests issued in the window that got no reply
  std::uint64_t reconnects_ = 0;
  Nanos last_reply_ = 0;
  bool stalled_ = false;  // ended early: no valid reply for --timeout
  LatencyHistogram latency_;
  ActionCounts actions_;
  ErrorCounts errors_;
};

void LoadRun::watch(int fd, std::uint32_t events, std::size_t id, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_, op, fd, &ev) != 0) {
    std::perror("policy_load: epoll_ctl");
    std::exit(1);
  }
}

void LoadRun::ramp(Nanos now) {
  while (next_to_open_ < connections_.size() && ramping_ < kRampBurst) {
    std::size_t id = next_to_open_++;
    connections_[id].ramping = true;
    ++ramping_;
    open(id, now);
  }
}

void LoadRun::end_ramp(Connection& c) {
  if (!c.ramping) return;
  c.ramping = false;
  --ramping_;
}

void LoadRun::open(std::size_t id, Nanos now) {
  Connection& c = connections_[id];
  c.fd = socket(address_.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    std::perror("policy_load: socket");
    std::exit(1);
  }
  if (address_.family != AF_UNIX) {
    // Requests are written whole; waiting for more data only adds latency.
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  c.in.resize(kReadChunk);
  c.in_used = 0;
  if (connect(c.fd, reinterpret_cast<const sockaddr*>(&address_.storage), address_.length) == 0) {
    watch(c.fd, EPOLLIN | EPOLLRDHUP, id, EPOLL_CTL_ADD);
    c.state = ConnState::idle;
    if (may_issue()) send_next(id, now);
  } else if (errno == EINPROGRESS || errno == EAGAIN) {
    c.state = ConnState::connecting;
    watch(c.fd, EPOLLOUT, id, EPOLL_CTL_ADD);
  } else {
    fail(id, now, &ErrorCounts::connect);
  }
}

// Drops the connection; a request outstanding on it is an error. The
// connection comes back after a short pause, as smtpd would reconnect.
void LoadRun::fail(std::size_t id, Nanos now, std::uint64_t ErrorCounts::*kind) {
  Connection& c = connections_[id];
  bool in_window = kind == &ErrorCounts::connect ? phase_ == Phase::measure : counts_in_window(c);
  // Closing a connection with nothing outstanding is the server's right.
  bool is_error = c.state == ConnState::waiting_reply || kind != &ErrorCounts::closed;
  if (in_window && is_error) ++(errors_.*kind);
  if (c.counted) ++failed_;
  end_ramp(c);
  if (c.fd >= 0) close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
  c.counted = false;
  c.state = ConnState::reconnect_pending;
  c.retry_at = now + kReconnectDelay;
  ++reconnects_;
  finish_if_done(now);
}

// With --requests the window closes when every measured request has ended,
// answered or failed.
void LoadRun::finish_if_done(Nanos now) {
  if (phase_ == Phase::measure && options_.requests > 0 &&
      completed_ + failed_ >= options_.requests)
    stop_measuring(now);
}

void LoadRun::stop_measuring(Nanos now) {
  phase_ = Phase::drain;
  measure_end_ = now;
  cpu_end_ = cpu_snapshot(options_.watch_pids);
}

// With --duration, the window holds whatever ends inside it, so in steady
// state requests straddling either edge balance out. With --requests it
// holds exactly the requests issued after the warmup.
bool LoadRun::counts_in_window(const Connection& c) const {
  if (options_.requests > 0) return c.counted;
  return phase_ == Phase::measure;
}

bool LoadRun::may_issue() const {
  if (phase_ == Phase::drain) return false;
  if (phase_ == Phase::measure && options_.requests > 0) return issued_ < options_.requests;
  return true;
}

void LoadRun::send_next(std::size_t id, Nanos now) {
  Connection& c = connections_[id];
  // A fixed pseudo-random walk over the pool: every connection draws from the
  // same stream, so concurrent requests for one triplet happen, as they do
  // when a client retries on several connections.
  next_triplet_ = mix(next_triplet_);
  c.triplet = next_triplet_ % pool_.size();
  const RequestTemplate& t = pool_[c.triplet];
  std::uint64_t seq = ++sequence_;
  c.out.assign(t.text);
  put_hex(c.out.data() + t.queue_id_at, seq, kQueueIdWidth, kUpper);
  put_hex(c.out.data() + t.instance_at, id, 4, kLower);
  put_hex(c.out.data() + t.instance_at + 5, seq, 8, kLower);
  put_hex(c.out.data() + t.instance_at + 14, seq >> 32, 5, kLower);
  c.out_done = 0;
  // Stamped here, not at the start of the epoll batch, so the time this
  // loop spends on other connections is not charged to the server.
  c.sent_at = now_ns();
  c.counted = phase_ == Phase::measure;
  if (c.counted) ++issued_;
  c.state = ConnState::waiting_reply;
  flush(id, now);
}

void LoadRun::flush(std::size_t id, Nanos now) {
  Connection& c = connections_[id];
  while (c.out_done < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_done, c.out.size() - c.out_done, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_done += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch(c.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, id, EPOLL_CTL_MOD);
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      fail(id, now, &ErrorCounts::closed);
      return;
    }
  }
}

void LoadRun::on_readable(std::size_t id) {
  Connection& c = connections_[id];
  if (c.in.size() - c.in_used < kReadChunk / 2) c.in.resize(c.in.size() * 2);
  ssize_t n = read(c.fd, c.in.data() + c.in_used, c.in.size() - c.in_used);
  Nanos now = now_ns();
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    fail(id, now, &ErrorCounts::closed);
    return;
  }
  if (n < 0) return;
  std::size_t scan_from = c.in_used > 0 ? c.in_used - 1 : 0;
  c.in_used += static_cast<std::size_t>(n);
  std::string_view data(c.in.data(), c.in_used);
  if (c.state != ConnState::waiting_reply) {
    fail(id, now, &ErrorCounts::protocol);  // the server spoke unasked
    return;
  }
  // A reply is attribute lines ending at the first empty line. An empty
  // first line is a reply without attributes, hence without an action.
  if (data.starts_with("\n")) {
    fail(id, now, &ErrorCounts::protocol);
    return;
  }
  std::size_t end = data.find("\n\n", scan_from);
  if (end == std::string_view::npos) {
    if (c.in_used > kMaxReply) fail(id, now, &ErrorCounts::protocol);
    return;
  }
  if (end + 2 != c.in_used) {
    fail(id, now, &ErrorCounts::protocol);  // more than one reply to one request
    return;
  }
  on_reply(id, data.substr(0, end + 1), now);
}

void LoadRun::on_reply(std::size_t id, std::string_view reply, Nanos now) {
  Connection& c = connections_[id];
  std::string_view action;
  bool found = false;
  for (std::size_t pos = 0; pos < reply.size();) {
    std::size_t eol = reply.find('\n', pos);
    std::string_view line = reply.substr(pos, eol - pos);
    if (line.starts_with("action=")) {
      action = line.substr(7);
      found = true;
      break;
    }
    pos = eol + 1;
  }
  if (!found || action.empty()) {
    fail(id, now, &ErrorCounts::protocol);
    return;
  }
  last_reply_ = now;
  if (phase_ == Phase::warmup && pool_left_ > 0 && !pool_answered_[c.triplet]) {
    pool_answered_[c.triplet] = true;
    --pool_left_;
  }
  if (counts_in_window(c)) {
    ++completed_;
    latency_.record(now - c.sent_at);
    actions_.add(action);
  }
  c.in_used = 0;
  c.counted = false;
  c.state = ConnState::idle;
  finish_if_done(now);
  if (may_issue()) send_next(id, now);
  if (connections_[id].ramping) {
    end_ramp(connections_[id]);
    ramp(now);
  }
}

void LoadRun::start_measuring(Nanos now) {
  phase_ = Phase::measure;
  measure_start_ = now;
  cpu_start_ = cpu_snapshot(options_.watch_pids);
  issued_ = completed_ = failed_ = reconnects_ = 0;
  latency_.clear();
  actions_.clear();
  errors_ = {};
}

bool LoadRun::all_quiet() const {
  return std::none_of(connections_.begin(), connections_.end(),
                      [](const Connection& c) { return c.state == ConnState::waiting_reply; });
}

int LoadRun::run() {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) {
    std::perror("policy_load: epoll_create1");
    return 1;
  }
  Nanos begin = now_ns();
  begin_ = begin;
  Nanos warmup_end = begin + seconds_to_ns(options_.warmup_s);
  if (options_.warmup_s == 0 && !options_.warmup_pool) start_measuring(begin);
  ramp(begin);

  std::vector<epoll_event> events(std::max<std::size_t>(connections_.size(), 16));
  Nanos drain_deadline = 0;
  Nanos next_housekeeping = begin;
  last_reply_ = begin;
  const Nanos timeout = seconds_to_ns(options_.timeout_s);
  for (;;) {
    int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 10);
    if (n < 0 && errno != EINTR) {
      std::perror("policy_load: epoll_wait");
      return 1;
    }
    Nanos now = now_ns();
    for (int i = 0; i < n; ++i) {
      auto id = static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64);
      std::uint32_t what = events[static_cast<std::size_t>(i)].events;
      Connection& c = connections_[id];
      if (c.fd < 0) continue;  // closed earlier in this batch
      if (c.state == ConnState::connecting) {
        int error = 0;
        socklen_t len = sizeof error;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) {
          fail(id, now, &ErrorCounts::connect);
          continue;
        }
        watch(c.fd, EPOLLIN | EPOLLRDHUP, id, EPOLL_CTL_MOD);
        c.state = ConnState::idle;
        if (may_issue()) send_next(id, now);
        continue;
      }
      if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        on_readable(id);
        if (c.fd < 0) continue;
      }
      if ((what & EPOLLOUT) && c.state == ConnState::waiting_reply) {
        flush(id, now);
        if (c.fd >= 0 && c.out_done == c.out.size())
          watch(c.fd, EPOLLIN | EPOLLRDHUP, id, EPOLL_CTL_MOD);
      }
    }

    if (phase_ == Phase::warmup && now >= warmup_end &&
        (pool_left_ == 0 || now >= warmup_end + kPoolWarmupLimit))
      start_measuring(now);
    if (phase_ == Phase::measure && options_.duration_s > 0 &&
        now >= measure_start_ + seconds_to_ns(options_.duration_s))
      stop_measuring(now);
    if (phase_ == Phase::drain) {
      if (drain_deadline == 0) drain_deadline = now + std::min(timeout, kDrainLimit);
      if (all_quiet() || now >= drain_deadline) break;
    }

    // A server that answers nothing at all would otherwise keep a
    // --requests run going forever.
    if (phase_ != Phase::drain && now - last_reply_ > timeout + kReconnectDelay) {
      stalled_ = true;
      if (phase_ == Phase::warmup) start_measuring(now);
      stop_measuring(now);
    }

    // Timeouts and reconnects are rare: look at them ten times a second.
    if (now >= next_housekeeping) {
      next_housekeeping = now + 100'000'000;
      if (phase_ != Phase::drain) ramp(now);
      for (std::size_t id = 0; id < connections_.size(); ++id) {
        Connection& c = connections_[id];
        if (c.state == ConnState::waiting_reply && now - c.sent_at > timeout)
          fail(id, now, &ErrorCounts::timeout);
        else if (c.state == ConnState::reconnect_pending && now >= c.retry_at &&
                 phase_ != Phase::drain)
          open(id, now);
        else if (c.state == ConnState::idle && c.fd >= 0 && may_issue())
          send_next(id, now);
      }
    }
  }
  for (auto& c : connections_)
    if (c.fd >= 0) close(c.fd);
  close(epoll_);
  report();
  return completed_ > 0 ? 0 : 1;
}

// Text from the command line or the server, made safe inside a JSON string
// without an escaping library: anything needing an escape becomes '?'.
std::string json_safe(std::string_view text) {
  std::string out;
  for (char ch : text)
    out.push_back((ch >= 0x20 && ch != '"' && ch != '\\' && ch < 0x7f) ? ch : '?');
  return out;
}

void LoadRun::report() const {
  double elapsed = static_cast<double>(measure_end_ - measure_start_) / 1e9;
  double warmup_elapsed = static_cast<double>(measure_start_ - begin_) / 1e9;
  double rate = elapsed > 0 ? static_cast<double>(completed_) / elapsed : 0;
  // All CPU figures are in percent of one core.
  auto percent = [elapsed](double seconds) { return elapsed > 0 ? 100.0 * seconds / elapsed : 0; };
  const auto tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double cpu_percent = percent(cpu_end_.self_s - cpu_start_.self_s);
  std::vector<double> watched;
  double watched_percent = 0;
  for (std::size_t i = 0; i < options_.watch_pids.size(); ++i) {
    std::uint64_t ticks = i < cpu_end_.watched.size() && i < cpu_start_.watched.size()
                              ? cpu_end_.watched[i] - cpu_start_.watched[i]
                              : 0;
    watched.push_back(percent(static_cast<double>(ticks) / tick));
    watched_percent += watched.back();
  }
  double machine_percent =
      percent(static_cast<double>(cpu_end_.machine_busy - cpu_start_.machine_busy) / tick);
  double other_percent = std::max(0.0, machine_percent - cpu_percent - watched_percent);
  auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  double p50 = us(latency_.percentile(0.50));
  double p90 = us(latency_.percentile(0.90));
  double p99 = us(latency_.percentile(0.99));
  double max = us(latency_.max());
  auto actions = actions_.sorted();
  if (options_.json) {
    std::printf(
        "{\"connect\":\"%s\",\"connections\":%d,\"triplets\":%zu,\"seed\":%llu,"
        "\"warmup_s\":%.3f,\"warmup_elapsed_s\":%.3f,\"warmup_pool_left\":%zu,\"elapsed_s\":%.3f,"
        "\"requests\":%llu,\"requests_per_s\":%.1f,"
        "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
        "\"errors\":{\"total\":%llu,\"connect\":%llu,\"closed\":%llu,\"timeout\":%llu,"
        "\"protocol\":%llu},\"reconnects\":%llu,\"stalled\":%s,\"client_cpu_percent\":%.1f,"
        "\"watched_cpu_percent\":%.1f,\"machine_cpu_percent\":%.1f,\"other_cpu_percent\":%.1f,",
        json_safe(options_.connect).c_str(), options_.connections, options_.triplets,
        static_cast<unsigned long long>(options_.seed), options_.warmup_s, warmup_elapsed,
        pool_left_, elapsed, static_cast<unsigned long long>(completed_), rate, p50, p90, p99, max,
        static_cast<unsigned long long>(errors_.total()),
        static_cast<unsigned long long>(errors_.connect),
        static_cast<unsigned long long>(errors_.closed),
        static_cast<unsigned long long>(errors_.timeout),
        static_cast<unsigned long long>(errors_.protocol),
        static_cast<unsigned long long>(reconnects_), stalled_ ? "true" : "false", cpu_percent,
        watched_percent, machine_percent, other_percent);
    std::printf("\"watched\":{");
    for (std::size_t i = 0; i < watched.size(); ++i)
      std::printf("%s\"%d\":%.1f", i ? "," : "", options_.watch_pids[i], watched[i]);
    std::printf("},\"actions\":{");
    bool first = true;
    for (auto& [name, count] : actions) {
      std::printf("%s\"%s\":%llu", first ? "" : ",", json_safe(name).c_str(),
                  static_cast<unsigned long long>(count));
      first = false;
    }
    std::printf("}}\n");
    return;
  }
  std::printf("server       %s, %d connections, %zu triplets (seed %llu)\n",
              options_.connect.c_str(), options_.connections, options_.triplets,
              static_cast<unsigned long long>(options_.seed));
  std::printf("measured     %.2f s after %.2f s warmup%s%s\n", elapsed, warmup_elapsed,
              options_.warmup_pool
                  ? (pool_left_ == 0 ? " (every triplet answered once)"
                                     : " (NOT every triplet answered; see warmup_pool_left)")
                  : "",
              stalled_ ? " (ended early: no valid reply within --timeout)" : "");
  std::printf("requests     %llu  (%.0f req/s)\n", static_cast<unsigned long long>(completed_),
              rate);
  std::printf("latency us   p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", p50, p90, p99, max);
  std::printf("errors       %llu  (connect %llu, closed %llu, timeout %llu, protocol %llu)\n",
              static_cast<unsigned long long>(errors_.total()),
              static_cast<unsigned long long>(errors_.connect),
              static_cast<unsigned long long>(errors_.closed),
              static_cast<unsigned long long>(errors_.timeout),
              static_cast<unsigned long long>(errors_.protocol));
  std::printf("actions     ");
  for (auto& [name, count] : actions)
    std::printf(" %s %llu", name.c_str(), static_cast<unsigned long long>(count));
  std::printf("\ncpu          this client %.0f%%", cpu_percent);
  for (std::size_t i = 0; i < watched.size(); ++i)
    std::printf(", pid %d %.0f%%", options_.watch_pids[i], watched[i]);
  std::printf(", everything else %.0f%% (of one core; machine %.0f%% of %ld cores)\n",
              other_percent, machine_percent, sysconf(_SC_NPROCESSORS_ONLN));
}

// The pool's distinct client addresses, in pool order: bench/run-policy
// lists some of them in a DNSBL zone.
int print_clients(const Options& options) {
  std::unordered_set<std::string> seen;
  constexpr std::string_view kKey = "\nclient_address=";
  for (std::size_t i = 0; i < options.triplets; ++i) {
    RequestTemplate t = make_request(i, options.seed, options.triplets);
    std::size_t at = t.text.find(kKey) + kKey.size();
    std::string address = t.text.substr(at, t.text.find('\n', at) - at);
    if (seen.insert(address).second) std::printf("%s\n", address.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  if (options.print_clients) return print_clients(options);
  LoadRun run(options, resolve(options.connect));
  return run.run();
}
