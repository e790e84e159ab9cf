#include "test/support/postfix_instance.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mailsan::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Debian keeps the Postfix commands in /usr/sbin, which a test runner's PATH
// may lack.
std::string postfix_command(const std::string& name) {
  fs::path sbin = fs::path("/usr/sbin") / name;
  return fs::exists(sbin) ? sbin.string() : name;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// A pid whose process has exited but was not reaped yet (the init of a
// container may reap late) counts as gone.
bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string stat = read_file(fs::path("/proc") / std::to_string(pid) / "stat");
  auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// Postfix daemons run with the queue directory as their working directory;
// the queue directory is private to one instance, so this finds exactly the
// processes of that instance.
std::vector<pid_t> processes_in(const fs::path& queue_dir) {
  std::vector<pid_t> pids;
  // The kernel shows the resolved path; $TMPDIR may contain a symlink.
  std::error_code canonical_ec;
  const fs::path wanted = fs::weakly_canonical(queue_dir, canonical_ec);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (!all_digits(name)) continue;
    std::error_code cwd_ec;
    fs::path cwd = fs::read_symlink(entry.path() / "cwd", cwd_ec);
    if (!cwd_ec && cwd == wanted) {
      pid_t pid = static_cast<pid_t>(std::stol(name));
      if (alive(pid)) pids.push_back(pid);
    }
  }
  return pids;
}

const passwd& user_entry(const char* user) {
  const passwd* pw = ::getpwnam(user);
  if (!pw)
    throw std::runtime_error(std::string("no user ") + user +
                             " (is the postfix package installed?)");
  return *pw;
}

void chown_to(const fs::path& p, const char* user, fs::perms mode) {
  const passwd& pw = user_entry(user);
  if (::chown(p.c_str(), pw.pw_uid, pw.pw_gid) != 0)
    throw std::runtime_error("chown " + p.string() + " failed");
  fs::permissions(p, mode);
}

}  // namespace

std::string policy_service(unsigned short port, const std::string& host) {
  return "check_policy_service { inet:" + host + ":" + std::to_string(port) +
         ", timeout=10s, default_action=DUNNO }";
}

SwaksResult run_swaks(const std::string& host, unsigned short port, const SwaksMessage& m) {
  std::vector<std::string> argv{"swaks"};
  auto option = [&argv](const char* name, std::string value) {
    argv.push_back(name);
    argv.push_back(std::move(value));
  };
  option("--server", host + ":" + std::to_string(port));
  option("--local-interface", m.local_interface);
  option("--helo", m.helo);
  option("--from", m.from);
  option("--to", join(m.to, ","));
  option("--timeout", std::to_string(m.timeout_seconds) + "s");
  for (const auto& header : m.headers) option("--header", header);
  // From stdin, because swaks reads a --body argument that names an existing
  // file as that file.
  if (!m.body.empty()) option("--body", "-");
  argv.insert(argv.end(), m.extra_args.begin(), m.extra_args.end());
  auto r = run(argv, m.body);
  return {r.exit_code, std::move(r.output)};
}

std::vector<std::string> DeliveredMessage::headers(std::string_view name) const {
  std::vector<std::string> values;
  std::istringstream in(content);
  std::string line;
  bool in_match = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (in_match) values.back() += " " + trim(line);
      continue;
    }
    auto colon = line.find(':');
    in_match = colon != std::string::npos && iequals(std::string_view(line).substr(0, colon), name);
    if (in_match) values.push_back(trim(line.substr(colon + 1)));
  }
  return values;
}

PostfixInstance::PostfixInstance(PostfixSettings settings, bool start_now)
    : settings_(std::move(settings)), dir_("mailsan-postfix-" + settings_.name) {
  if (settings_.smtp_port == 0) settings_.smtp_port = free_tcp_port();
  write_config();
  if (start_now) start();
}

PostfixInstance::~PostfixInstance() {
  try {
    stop();
  } catch (...) {
    // A destructor must not throw; stop() has killed what it could.
  }
}

void PostfixInstance::write_config() const {
  const fs::path etc = config_dir();
  const fs::path data = dir() / "data";
  const fs::path mail = dir() / "mail";
  fs::create_directories(etc);
  fs::create_directories(queue_dir());
  fs::create_directories(data);
  fs::create_directories(mail);
  // The only directory Postfix does not create itself.
  chown_to(data, "postfix", fs::perms::owner_all);
  // virtual(8) delivers as an unprivileged user, never as root or postfix.
  chown_to(mail, "nobody", fs::perms::owner_all);

  const std::string d = dir().string();
  const passwd& nobody = user_entry("nobody");
  std::string main_cf =
      "# Private test instance \"" + settings_.name + "\" of the mailsan tests.\n";
  auto set = [&main_cf](const std::string& name, const std::string& value) {
    main_cf += name + " = " + value + "\n";
  };
  set("compatibility_level", "3.6");
  set("config_directory", etc.string());
  set("queue_directory", queue_dir().string());
  set("data_directory", data.string());
  set("mail_owner", "postfix");
  set("setgid_group", "postdrop");
  // No syslog here: the postlog service writes this file.
  set("maillog_file", d + "/maillog");
  set("maillog_file_prefixes", d);
  set("syslog_name", "postfix-" + settings_.name);
  set("myhostname", settings_.hostname);
  set("myorigin", "$myhostname");
  set("mydestination", "");
  set("append_dot_mydomain", "no");
  set("biff", "no");
  set("alias_maps", "");
  set("alias_database", "");
  // The listen address is bound by the master.cf service itself, which works
  // for any 127.x.y.z; inet_interfaces accepts only addresses configured on
  // an interface.
  set("inet_interfaces", "127.0.0.1");
  set("inet_protocols", "ipv4");
  set("mynetworks", settings_.mynetworks);
  // No DNS in tests: the client is "unknown", next hops are literal.
  set("smtpd_peername_lookup", "no");
  set("smtp_dns_support_level", "disabled");
  set("smtp_host_lookup", "native");
  set("lmtp_host_lookup", "native");
  set("virtual_mailbox_domains", join(settings_.local_domains, ", "));
  set("virtual_mailbox_base", mail.string());
  set("virtual_mailbox_maps", "static:inbox/");
  set("virtual_uid_maps", "static:" + std::to_string(nobody.pw_uid));
  set("virtual_gid_maps", "static:" + std::to_string(nobody.pw_gid));
  // Mail Postfix makes itself (bounces, postmaster notices) lands in the same
  // Maildir, so a test sees backscatter instead of a queue entry waiting for
  // DNS.
  set("default_transport", "virtual");
  set("smtpd_relay_restrictions", settings_.relay_restrictions);
  set("smtpd_recipient_restrictions", settings_.recipient_restrictions);
  set("smtpd_data_restrictions", settings_.data_restrictions);
  set("smtpd_error_sleep_time", "0s");
  // Retries within seconds, so "delivered once the next hop is back" does
  // not wait minutes.
  set("queue_run_delay", "1s");
  set("minimal_backoff_time", "1s");
  set("maximal_backoff_time", "2s");
  main_cf += settings_.extra_main_cf + "\n";
  write_file(etc / "main.cf", main_cf);

  std::ostringstream master_cf;
  master_cf << "# service type private unpriv chroot wakeup maxproc command\n"
            << settings_.listen_address << ":" << settings_.smtp_port << " inet n - n - - smtpd\n";
  for (const auto& option : settings_.smtpd_options) master_cf << "  -o { " << option << " }\n";
  // Nothing is chrooted: a chroot would need copies of /etc files.
  master_cf << "pickup     unix  n - n 60 1 pickup\n"
            << "cleanup    unix  n - n - 0 cleanup\n"
            << "qmgr       unix  n - n 300 1 qmgr\n"
            << "tlsmgr     unix  - - n 1000? 1 tlsmgr\n"
            << "rewrite    unix  - - n - - trivial-rewrite\n"
            << "bounce     unix  - - n - 0 bounce\n"
            << "defer      unix  - - n - 0 bounce\n"
            << "trace      unix  - - n - 0 bounce\n"
            << "verify     unix  - - n - 1 verify\n"
            << "flush      unix  n - n 1000? 0 flush\n"
            << "proxymap   unix  - - n - - proxymap\n"
            << "proxywrite unix  - - n - 1 proxymap\n"
            << "smtp       unix  - - n - - smtp\n"
            << "relay      unix  - - n - - smtp\n"
            << "showq      unix  n - n - - showq\n"
            << "error      unix  - - n - - error\n"
            << "retry      unix  - - n - - error\n"
            << "discard    unix  - - n - - discard\n"
            << "local      unix  - n n - - local\n"
            << "virtual    unix  - n n - - virtual\n"
            << "lmtp       unix  - - n - - lmtp\n"
            << "anvil      unix  - - n - 1 anvil\n"
            << "scache     unix  - - n - 1 scache\n"
            << "postlog    unix-dgram n - n - 1 postlogd\n"
            << settings_.extra_master_cf << "\n";
  write_file(etc / "master.cf", master_cf.str());

  // Postfix does not trust a config file modified within the last second
  // (an editor may still be writing it) and rereads it after 300 ms sleeps;
  // with fresh files every postconf and master run of "postfix start" waits,
  // about 2 s in all.
  for (const char* file : {"main.cf", "master.cf"})
    fs::last_write_time(etc / file, fs::file_time_type::clock::now() - 10s);
}

void PostfixInstance::start() {
  if (running()) return;
  auto r = run({postfix_command("postfix"), "-c", config_dir().string(), "start"});
  if (r.exit_code != 0) {
    throw std::runtime_error("postfix start failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.output + "\n" + diagnostics());
  }
  // No probe connection: "master -w" returns only after the master has
  // bound every listener, and a probe would show up in the maillog and in
  // smtpd's per-client counters.
}

pid_t PostfixInstance::master_pid() const {
  std::string text = trim(read_file(queue_dir() / "pid" / "master.pid"));
  if (!all_digits(text)) return -1;
  pid_t pid = static_cast<pid_t>(std::stol(text));
  // A stale pid file may name a process that is not ours any more.
  auto ours = processes_in(queue_dir());
  return std::find(ours.begin(), ours.end(), pid) != ours.end() ? pid : -1;
}

bool PostfixInstance::running() const {
  return master_pid() > 0;
}

void PostfixInstance::stop() {
  auto wait_gone = [this](std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!processes_in(queue_dir()).empty()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  };
  if (master_pid() > 0) run({postfix_command("postfix"), "-c", config_dir().string(), "stop"});
  // "postfix stop" waits for the master only; its children exit just after
  // it, and the temp dir must not be removed under them.
  if (wait_gone(10s)) return;
  for (pid_t pid : processes_in(queue_dir())) ::kill(pid, SIGKILL);
  wait_gone(5s);
}

std::string PostfixInstance::maillog() const {
  return read_file(dir() / "maillog");
}

std::string PostfixInstance::diagnostics() const {
  return "--- Postfix instance " + settings_.name + " in " + dir().string() + ", maillog:\n" +
         maillog() + "--- postqueue -p:\n" + postqueue_listing();
}

SwaksResult PostfixInstance::send(const SwaksMessage& message) const {
  return run_swaks(address(), smtp_port(), message);
}

std::vector<DeliveredMessage> PostfixInstance::delivered() const {
  struct Entry {
    fs::file_time_type mtime;
    fs::path path;
  };
  std::vector<Entry> entries;
  std::error_code ec;
  // Maildir: a message appears in new/ only once it is complete.
  for (const auto& entry : fs::directory_iterator(maildir() / "new", ec)) {
    std::error_code time_ec;
    auto mtime = fs::last_write_time(entry.path(), time_ec);
    if (!time_ec) entries.push_back({mtime, entry.path()});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.path < b.path;
  });
  std::vector<DeliveredMessage> messages;
  for (const auto& entry : entries) {
    DeliveredMessage m;
    m.path = entry.path;
    m.content = read_file(entry.path);
    auto to = m.headers("Delivered-To");
    if (!to.empty()) m.recipient = to.front();
    auto from = m.headers("Return-Path");
    if (!from.empty()) {
      m.sender = from.front();
      if (m.sender.size() >= 2 && m.sender.front() == '<' && m.sender.back() == '>')
        m.sender = m.sender.substr(1, m.sender.size() - 2);
    }
    messages.push_back(std::move(m));
  }
  return messages;
}

std::vector<DeliveredMessage> PostfixInstance::wait_for_delivered(
    size_t count, std::chrono::milliseconds timeout) const {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto messages = delivered();
    if (messages.size() >= count) return messages;
    if (std::chrono::steady_clock::now() >= until) {
      throw std::runtime_error("expected " + std::to_string(count) +
                               " delivered message(s), found " + std::to_string(messages.size()) +
                               "\n" + diagnostics());
    }
    std::this_thread::sleep_for(50ms);
  }
}

size_t PostfixInstance::queued() const {
  size_t count = 0;
  for (const char* queue : {"incoming", "active", "deferred", "hold", "maildrop"}) {
    std::error_code ec;
    fs::recursive_directory_iterator it(queue_dir() / queue, ec), end;
    // Postfix moves and removes files while we look; a vanished entry is
    // simply not counted.
    while (!ec && it != end) {
      std::error_code type_ec;
      if (it->is_regular_file(type_ec)) ++count;
      it.increment(ec);
    }
  }
  return count;
}

std::string PostfixInstance::postqueue_listing() const {
  return run({postfix_command("postqueue"), "-c", config_dir().string(), "-p"}).output;
}

bool PostfixInstance::wait_until_queue_empty(std::chrono::milliseconds timeout) const {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (queued() != 0) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

void PostfixInstance::flush() const {
  auto r = run({postfix_command("postqueue"), "-c", config_dir().string(), "-f"});
  if (r.exit_code != 0)
    throw std::runtime_error("postqueue -f failed: " + r.output + "\n" + diagnostics());
}

}  // namespace mailsan::test
