#include <catch2/catch.hpp>
#include <sstream>

#include "common/config/option_table.hpp"
#include "test/support/process.hpp"

using namespace mailsan::config;
using mailsan::test::TempDir;
using mailsan::test::write_file;
using std::chrono::seconds;

namespace {

// One field of every kind, in the top part and in two sections.
struct Sample {
  std::string listen;
  std::int64_t workers = 0;
  bool verbose = true;
  seconds timeout{0};
  std::int64_t spool_limit = 0;
  std::vector<std::string> local_domains;
  std::string failure_mode;
  struct {
    bool enable = false;
    seconds delay{0};
    std::int64_t score = 0;
    std::vector<std::string> clients;
  } greylist;
  std::string ldap_filter;
};

OptionTable make_table(Sample& s) {
  OptionTable t("sampled");
  t.add_string("listen", &s.listen, "inet:127.0.0.1:10040", "where clients connect")
      .add_integer("workers", &s.workers, 4, 1, 64, "number of worker threads")
      .add_bool("verbose", &s.verbose, false, "log every request")
      .add_duration("timeout", &s.timeout, seconds(8), seconds(1), seconds(300),
                    "deadline of one request")
      .add_size("spool_limit", &s.spool_limit, 1048576, 1024, 1073741824,
                "bytes of a message kept in memory")
      .add_list("local_domains", &s.local_domains, "example.com", "domains this MX accepts")
      .add_choice("failure_mode", &s.failure_mode, "fail_open", {"fail_open", "fail_closed"},
                  "what happens when Redis is down")
      .add_bool("greylist.enable", &s.greylist.enable, true, "greylist unknown triplets")
      .add_duration("greylist.delay", &s.greylist.delay, seconds(300), seconds(0), seconds(86400),
                    "how long a new triplet is deferred")
      .add_integer("greylist.score", &s.greylist.score, -5, -100, 100, "weight | of a listing")
      .add_list("greylist.clients", &s.greylist.clients, "192.0.2.0/24, .example.net",
                "clients that are never greylisted")
      .add_string("ldap.filter", &s.ldap_filter, "(&(objectClass=x)(mail=%s))",
                  "LDAP filter that finds a recipient");
  return t;
}

struct Fixture {
  TempDir dir{"mailsan-config-test"};
  Sample sample;
  OptionTable table = make_table(sample);

  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir.path() / name).string();
    write_file(path, text);
    return path;
  }
  std::string load(const std::string& text) {
    std::string path = write("test.conf", text);
    load_file(table, path);
    return path;
  }
  // The message load_file() throws for `text`, or "" when it loads.
  std::string error_for(const std::string& text) {
    try {
      load(text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return {};
  }
  std::string path() const { return (dir.path() / "test.conf").string(); }

  struct Result {
    CommandLine cl;
    std::string out, err;
  };
  Result run(std::vector<std::string> args, const std::string& default_path = "/nonexistent.conf") {
    args.insert(args.begin(), "mailsan-sampled");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    Result r;
    r.cl = parse_command_line(table, static_cast<int>(argv.size()), argv.data(), default_path, out,
                              err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
};

}  // namespace

TEST_CASE("Adding a row stores its default in the bound field", "[config]") {
  Sample s;
  OptionTable t = make_table(s);
  CHECK(s.listen == "inet:127.0.0.1:10040");
  CHECK(s.workers == 4);
  CHECK_FALSE(s.verbose);
  CHECK(s.timeout == seconds(8));
  CHECK(s.spool_limit == 1048576);
  CHECK(s.local_domains == std::vector<std::string>{"example.com"});
  CHECK(s.failure_mode == "fail_open");
  CHECK(s.greylist.enable);
  CHECK(s.greylist.delay == seconds(300));
  CHECK(s.greylist.clients == std::vector<std::string>{"192.0.2.0/24", ".example.net"});
  CHECK(t.find("greylist.delay")->kind == Kind::duration);
  CHECK(t.find("delay") == nullptr);
  CHECK(t.program_name() == "mailsan-sampled");
  CHECK(t.config_file_name() == "sampled.conf");
}

TEST_CASE("Every row has a one-line doc, a unique name and a default within bounds", "[config]") {
  std::string s;
  std::int64_t i = 0;
  OptionTable t("x");
  CHECK_THROWS_AS(t.add_string("a", &s, "", ""), std::logic_error);
  CHECK_THROWS_AS(t.add_string("a", &s, "", "two\nlines"), std::logic_error);
  CHECK_THROWS_AS(t.add_string("Bad-Name", &s, "", "doc"), std::logic_error);
  CHECK_THROWS_AS(t.add_string("a.b.c", &s, "", "doc"), std::logic_error);
  CHECK_THROWS_AS(t.add_integer("n", &i, 100, 0, 10, "doc"), std::logic_error);
  CHECK_THROWS_AS(t.add_choice("c", &s, "maybe", {"yes", "no"}, "doc"), std::logic_error);
  t.add_string("a", &s, "", "doc");
  CHECK_THROWS_AS(t.add_string("a", &s, "", "doc"), std::logic_error);
}

TEST_CASE("Each kind of value is read from the config file", "[config]") {
  Fixture f;
  f.load(
      "# a comment\n"
      "listen = inet:0.0.0.0:10041\n"
      "workers = 8\n"
      "verbose = on\n"
      "timeout = 2m\n"
      "spool_limit = 2m\n"
      "local_domains = example.org example.net\n"
      "failure_mode = fail_closed\n"
      "\n"
      "[greylist]\n"
      "enable = no\n"
      "delay = 60\n"
      "score = -20\n"
      "clients = 198.51.100.0/24\n"
      "[ldap]\n"
      "filter = (&(objectClass=inetLocalMailRecipient)(mailLocalAddress=%s)) # not a comment\n");
  CHECK(f.sample.listen == "inet:0.0.0.0:10041");
  CHECK(f.sample.workers == 8);
  CHECK(f.sample.verbose);
  CHECK(f.sample.timeout == seconds(120));
  CHECK(f.sample.spool_limit == 2097152);
  CHECK(f.sample.local_domains == std::vector<std::string>{"example.org", "example.net"});
  CHECK(f.sample.failure_mode == "fail_closed");
  CHECK_FALSE(f.sample.greylist.enable);
  CHECK(f.sample.greylist.delay == seconds(60));
  CHECK(f.sample.greylist.score == -20);
  CHECK(f.sample.greylist.clients == std::vector<std::string>{"198.51.100.0/24"});
  // '#' only starts a comment at the beginning of a line.
  CHECK(f.sample.ldap_filter ==
        "(&(objectClass=inetLocalMailRecipient)(mailLocalAddress=%s)) # not a comment");
}

TEST_CASE("Blank lines, indentation, CRLF line ends and empty values are accepted", "[config]") {
  Fixture f;
  f.load(
      "\r\n  # indented comment\r\n  listen=unix:/run/x.sock  \r\n[ greylist ]\r\nclients =\r\n");
  CHECK(f.sample.listen == "unix:/run/x.sock");
  CHECK(f.sample.greylist.clients.empty());
}

TEST_CASE("A bad value of each kind is reported with file, line and option", "[config]") {
  Fixture f;
  const std::string p = f.path();
  CHECK(f.error_for("workers = many\n") == p + ":1: option 'workers': 'many' is not an integer");
  CHECK(f.error_for("\nverbose = maybe\n") ==
        p + ":2: option 'verbose': 'maybe' is not a boolean (use yes or no)");
  CHECK(f.error_for("timeout = 5x\n") ==
        p + ":1: option 'timeout': '5x' is not a duration (seconds, or a number with suffix s, "
            "m, h, d or w)");
  CHECK(f.error_for("spool_limit = 10q\n") ==
        p + ":1: option 'spool_limit': '10q' is not a size (bytes, or a number with suffix k, m "
            "or g)");
  CHECK(f.error_for("failure_mode = sometimes\n") ==
        p + ":1: option 'failure_mode': 'sometimes' is not one of fail_open, fail_closed");
  CHECK(f.error_for("[greylist]\n# c\ndelay = soon\n") ==
        p + ":3: option 'greylist.delay': 'soon' is not a duration (seconds, or a number with "
            "suffix s, m, h, d or w)");
  CHECK(f.error_for("listen = a\x01z\n") ==
        p + ":1: option 'listen': the value contains a control character");
}

TEST_CASE("Values outside the bounds are rejected with the range", "[config]") {
  Fixture f;
  const std::string p = f.path();
  CHECK(f.error_for("workers = 0\n") == p + ":1: option 'workers': '0' is out of range (1 .. 64)");
  CHECK(f.error_for("workers = 65\n") ==
        p + ":1: option 'workers': '65' is out of range (1 .. 64)");
  CHECK(f.error_for("[greylist]\ndelay = 2d\n") ==
        p + ":2: option 'greylist.delay': '2d' is out of range (0s .. 1d)");
  CHECK(f.error_for("timeout = 0\n") == p + ":1: option 'timeout': '0' is out of range (1s .. 5m)");
  CHECK(f.error_for("spool_limit = 2g\n") ==
        p + ":1: option 'spool_limit': '2g' is out of range (1k .. 1g)");
  CHECK(f.error_for("[greylist]\nscore = -101\n") ==
        p + ":2: option 'greylist.score': '-101' is out of range (-100 .. 100)");
  CHECK(f.error_for("workers = 64\n[greylist]\ndelay = 1d\nscore = -100\n").empty());
}

TEST_CASE("An unknown option is reported with file and line", "[config]") {
  Fixture f;
  const std::string p = f.path();
  CHECK(f.error_for("listen = x\nlisten_on = y\n") == p + ":2: unknown option 'listen_on'");
  CHECK(f.error_for("[greylist]\n\ndealy = 60\n") == p + ":3: unknown option 'greylist.dealy'");
  // A section's key is not known at the top, nor the other way round.
  CHECK(f.error_for("delay = 60\n") == p + ":1: unknown option 'delay'");
  CHECK(f.error_for("[greylist]\nlisten = x\n") == p + ":2: unknown option 'greylist.listen'");
}

TEST_CASE("Malformed lines and unknown sections are reported with file and line", "[config]") {
  Fixture f;
  const std::string p = f.path();
  CHECK(f.error_for("[grelist]\n") == p + ":1: unknown section '[grelist]'");
  CHECK(f.error_for("[greylist\n") == p + ":1: expected ']' after section name");
  CHECK(f.error_for("[]\n") == p + ":1: empty section name");
  CHECK(f.error_for("listen\n") == p + ":1: expected 'key = value' or '[section]'");
  CHECK(f.error_for("= x\n") == p + ":1: missing option name before '='");
}

TEST_CASE("Repeated list keys append, a repeated scalar is an error", "[config]") {
  Fixture f;
  f.load("local_domains = a.example\nlocal_domains = b.example, c.example\n");
  CHECK(f.sample.local_domains == std::vector<std::string>{"a.example", "b.example", "c.example"});
  CHECK(f.error_for("workers = 2\n\nworkers = 3\n") ==
        f.path() + ":3: option 'workers' is already set at line 1");
}

TEST_CASE("A missing or unreadable file is a ConfigError naming the file", "[config]") {
  Fixture f;
  std::string missing = (f.dir.path() / "nope.conf").string();
  CHECK_THROWS_WITH(load_file(f.table, missing),
                    "cannot open " + missing + ": No such file or directory");
  CHECK_THROWS_WITH(load_file(f.table, f.dir.path().string()), Catch::Contains("directory"));
}

TEST_CASE("Overrides replace file values, lists included", "[config]") {
  Fixture f;
  f.load("workers = 8\nlocal_domains = a.example\n[greylist]\nclients = 10.0.0.0/8\n");
  apply_overrides(f.table, {{"workers", "16"},
                            {"greylist.clients", "192.0.2.1"},
                            {"greylist.clients", "192.0.2.2"},
                            {"greylist.delay", "1h"}});
  CHECK(f.sample.workers == 16);
  CHECK(f.sample.local_domains == std::vector<std::string>{"a.example"});
  CHECK(f.sample.greylist.clients == std::vector<std::string>{"192.0.2.1", "192.0.2.2"});
  CHECK(f.sample.greylist.delay == seconds(3600));
  CHECK_THROWS_WITH(apply_overrides(f.table, {{"workers", "999"}}),
                    "command line: option 'workers': '999' is out of range (1 .. 64)");
  CHECK_THROWS_WITH(apply_overrides(f.table, {{"wrokers", "1"}}),
                    "command line: unknown option 'wrokers'");
}

TEST_CASE("reset_to_defaults puts every default back", "[config]") {
  Fixture f;
  f.load("workers = 8\n[greylist]\nclients = 10.0.0.0/8\n");
  std::string loaded = dump(f.table);
  reset_to_defaults(f.table);
  CHECK(f.sample.workers == 4);
  CHECK(f.sample.greylist.clients.size() == 2);
  CHECK(dump(f.table) != loaded);
}

TEST_CASE("A row check rejects values like a type error, with file and line", "[config]") {
  std::string address;
  OptionTable t("x");
  auto needs_colon = [](const std::string& v) {
    if (v.find(':') == std::string::npos) throw std::invalid_argument("missing ':PORT'");
  };
  t.add_string("listen", &address, "127.0.0.1:1", "address").with_check(needs_colon);
  TempDir dir;
  std::string path = (dir.path() / "x.conf").string();
  write_file(path, "listen = 127.0.0.1\n");
  CHECK_THROWS_WITH(load_file(t, path), path + ":1: option 'listen': missing ':PORT'");
  CHECK(address == "127.0.0.1:1");
  std::string other;
  CHECK_THROWS_AS(t.add_string("bad", &other, "nocolon", "doc").with_check(needs_colon),
                  std::logic_error);
}

TEST_CASE("Command-line overrides beat the config file in both spellings", "[config]") {
  Fixture f;
  std::string path = f.write("c.conf", "workers = 8\n[greylist]\ndelay = 600\nenable = no\n");
  auto r = f.run({"-c", path, "--greylist.delay=60", "--workers", "2"});
  CHECK(r.cl.action == Action::run);
  CHECK(r.cl.config_path == path);
  CHECK_FALSE(r.cl.check_only);
  CHECK(r.err.empty());
  CHECK(f.sample.greylist.delay == seconds(60));
  CHECK(f.sample.workers == 2);
  CHECK_FALSE(f.sample.greylist.enable);  // from the file, not overridden

  auto last = f.run({"--config=" + path, "--workers=3", "--workers=5"});
  CHECK(last.cl.action == Action::run);
  CHECK(f.sample.workers == 5);
}

TEST_CASE("A list on the command line replaces the file's list", "[config]") {
  Fixture f;
  std::string path = f.write("c.conf", "local_domains = a.example, b.example\n");
  auto r = f.run({"-c", path, "--local_domains", "c.example", "--local_domains=d.example"});
  REQUIRE(r.cl.action == Action::run);
  CHECK(f.sample.local_domains == std::vector<std::string>{"c.example", "d.example"});
}

TEST_CASE("Command-line errors name the problem and exit with an error", "[config]") {
  Fixture f;
  auto unknown = f.run({"--greylist.dealy=5"});
  CHECK(unknown.cl.action == Action::exit_error);
  CHECK_THAT(unknown.err, Catch::Contains("greylist.dealy"));
  // No prefix guessing: an abbreviation is not silently some other option.
  CHECK(f.run({"--greylist.del=5"}).cl.action == Action::exit_error);
  auto bad = f.run({"--greylist.delay=soon"});
  CHECK(bad.cl.action == Action::exit_error);
  CHECK_THAT(bad.err, Catch::Contains("command line: option 'greylist.delay': 'soon' is not a "
                                      "duration"));
  CHECK(f.run({"stray"}).cl.action == Action::exit_error);
  CHECK(f.run({"--workers"}).cl.action == Action::exit_error);
}

TEST_CASE("A missing config file is an error only when given with -c", "[config]") {
  Fixture f;
  std::string missing = (f.dir.path() / "missing.conf").string();
  auto implicit = f.run({}, missing);
  CHECK(implicit.cl.action == Action::run);
  CHECK(implicit.cl.config_path == missing);
  auto given = f.run({"-c", missing});
  CHECK(given.cl.action == Action::exit_error);
  CHECK_THAT(given.err, Catch::Contains("cannot open " + missing));
  // The default path is read when it exists.
  std::string present = f.write("present.conf", "workers = 7\n");
  CHECK(f.run({}, present).cl.action == Action::run);
  CHECK(f.sample.workers == 7);
}

TEST_CASE("A config file error makes the command line fail with file and line", "[config]") {
  Fixture f;
  std::string path = f.write("bad.conf", "[greylist]\ndealy = 1\n");
  auto r = f.run({"-c", path});
  CHECK(r.cl.action == Action::exit_error);
  CHECK(r.err == "mailsan-sampled: " + path + ":2: unknown option 'greylist.dealy'\n");
}

TEST_CASE("the --check-config flag loads and validates, then says config OK", "[config]") {
  Fixture f;
  std::string path = f.write("ok.conf", "workers = 3\n");
  auto ok = f.run({"--check-config", "-c", path});
  CHECK(ok.cl.action == Action::exit_ok);
  CHECK(ok.cl.check_only);
  CHECK(ok.out == path + ": config OK\n");
  std::string bad = f.write("bad.conf", "workers = 0\n");
  auto fails = f.run({"--check-config", "-c", bad});
  CHECK(fails.cl.action == Action::exit_error);
  CHECK(fails.out.empty());
  CHECK_THAT(fails.err, Catch::Contains(bad + ":1: option 'workers'"));
}

TEST_CASE("the --help flag names every option with its doc and default", "[config]") {
  Fixture f;
  auto r = f.run({"--help"});
  CHECK(r.cl.action == Action::exit_ok);
  CHECK_THAT(r.out, Catch::StartsWith("Usage: mailsan-sampled"));
  CHECK_THAT(r.out, Catch::Contains("default: /nonexistent.conf"));
  for (const auto& row : f.table.options()) {
    INFO(row.name);
    CHECK_THAT(r.out, Catch::Contains("--" + row.name + "="));
    CHECK_THAT(r.out, Catch::Contains(row.doc));
  }
  CHECK_THAT(r.out, Catch::Contains("default: 300 (5m), range: 0s .. 1d"));
  CHECK_THAT(r.out, Catch::Contains("default: fail_open, one of: fail_open, fail_closed"));
  CHECK_THAT(r.out, Catch::Contains("--config"));
  CHECK_THAT(r.out, Catch::Contains("--dump-config"));
  CHECK_THAT(r.out, Catch::Contains("--check-config"));
}

TEST_CASE("the --version and --dump-config flags exit 0 after printing", "[config]") {
  Fixture f;
  auto version = f.run({"--version"});
  CHECK(version.cl.action == Action::exit_ok);
  CHECK_THAT(version.out, Catch::StartsWith("mailsan-sampled "));
  auto dumped = f.run({"--dump-config", "--workers=9"});
  CHECK(dumped.cl.action == Action::exit_ok);
  CHECK(dumped.out == dump(f.table));
  CHECK_THAT(dumped.out, Catch::Contains("\nworkers = 9\n"));
}

TEST_CASE("The dump groups options by section", "[config]") {
  Fixture f;
  CHECK(dump(f.table) ==
        "# Effective configuration of mailsan-sampled\n"
        "listen = inet:127.0.0.1:10040\n"
        "workers = 4\n"
        "verbose = no\n"
        "timeout = 8\n"
        "spool_limit = 1048576\n"
        "local_domains = example.com\n"
        "failure_mode = fail_open\n"
        "\n"
        "[greylist]\n"
        "enable = yes\n"
        "delay = 300\n"
        "score = -5\n"
        "clients = 192.0.2.0/24, .example.net\n"
        "\n"
        "[ldap]\n"
        "filter = (&(objectClass=x)(mail=%s))\n");
}

TEST_CASE("A dump loaded again gives the same dump", "[config]") {
  Fixture f;
  f.load(
      "workers = 9\nverbose = yes\ntimeout = 1m\nlocal_domains =\n"
      "[greylist]\ndelay = 1d\nclients = a b c\nclients = d\n");
  std::string first = dump(f.table);
  std::string path = f.write("dumped.conf", first);

  Sample again;
  OptionTable table = make_table(again);
  load_file(table, path);
  CHECK(dump(table) == first);
  CHECK(again.greylist.clients == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(again.local_domains.empty());
}

TEST_CASE("The example file loads with its settings commented out or active", "[config]") {
  Fixture f;
  const std::string example = example_file(f.table);
  const std::string defaults = dump(f.table);

  Sample commented;
  OptionTable commented_table = make_table(commented);
  load_file(commented_table, f.write("commented.conf", example));
  CHECK(dump(commented_table) == defaults);

  // "#key = value" lines become active; "# doc" lines stay comments.
  std::string active;
  std::istringstream lines(example);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > 1 && line[0] == '#' && line[1] >= 'a' && line[1] <= 'z') line.erase(0, 1);
    active += line + "\n";
  }
  REQUIRE(active != example);
  Sample uncommented;
  OptionTable uncommented_table = make_table(uncommented);
  uncommented.workers = 63;  // proves the file, not the adder, set it back
  load_file(uncommented_table, f.write("active.conf", active));
  CHECK(dump(uncommented_table) == defaults);
  CHECK(uncommented.workers == 4);
}

TEST_CASE("The example file documents every option with its default", "[config]") {
  Fixture f;
  const std::string example = example_file(f.table);
  CHECK_THAT(example, Catch::StartsWith("# sampled.conf example, generated from the options table "
                                        "of mailsan-sampled.\n# Regenerate it with: "
                                        "mailsan-sampled --example-config > "
                                        "etc/sampled.conf.example\n"));
  CHECK_THAT(example, Catch::Contains("\n[greylist]\n\n# greylist unknown triplets\n"
                                      "#enable = yes\n\n"
                                      "# how long a new triplet is deferred\n"
                                      "# default: 300 (5m), range: 0s .. 1d\n"
                                      "#delay = 300\n"));
  CHECK_THAT(example, Catch::Contains("# what happens when Redis is down\n"
                                      "# default: fail_open, one of: fail_open, fail_closed\n"
                                      "#failure_mode = fail_open\n"));
  // Sections appear in the order of their first row, after the top part.
  CHECK(example.find("#failure_mode") < example.find("[greylist]"));
  CHECK(example.find("[greylist]") < example.find("[ldap]"));
  for (const auto& row : f.table.options()) CHECK_THAT(example, Catch::Contains("# " + row.doc));
  auto printed = f.run({"--example-config"});
  CHECK(printed.cl.action == Action::exit_ok);
  CHECK(printed.out == example);
}

TEST_CASE("The Markdown reference has a table per section and a row per option", "[config]") {
  Fixture f;
  const std::string md = markdown_reference(f.table);
  CHECK_THAT(md, Catch::Contains("### Top of the file (no section)\n\n"
                                 "| name | type | default | range | description |\n"
                                 "|---|---|---|---|---|\n"
                                 "| `listen` | string | `inet:127.0.0.1:10040` |  | where clients "
                                 "connect |\n"));
  CHECK_THAT(md, Catch::Contains("### `[greylist]`\n"));
  CHECK_THAT(md, Catch::Contains("| `delay` | duration | `300` (5m) | 0s .. 1d | how long a new "
                                 "triplet is deferred |\n"));
  CHECK_THAT(md, Catch::Contains("| `failure_mode` | choice | `fail_open` | one of: fail_open, "
                                 "fail_closed | what happens when Redis is down |\n"));
  // A '|' in a doc must not end the cell.
  CHECK_THAT(md, Catch::Contains("| weight \\| of a listing |"));
  CHECK(std::count(md.begin(), md.end(), '\n') >= static_cast<long>(f.table.options().size()));
}

TEST_CASE("A moved option is refused with its new name, in the file and on the command line",
          "[config]") {
  Fixture f;
  f.table.add_moved("greylist.weight", "greylist.score").add_moved("delay", "greylist.delay");
  CHECK(f.error_for("[greylist]\nenable = yes\nweight = 3\n") ==
        f.path() + ":3: greylist.weight has moved: write it as score under [greylist]");
  CHECK(f.error_for("delay = 5m\n") ==
        f.path() + ":1: delay has moved: write it as delay under [greylist]");
  auto cl = f.run({"--greylist.weight=3"});
  CHECK(cl.cl.action == Action::exit_error);
  CHECK_THAT(cl.err, Catch::Contains("greylist.weight has moved: write it as score under "
                                     "[greylist]"));
  CHECK_THROWS_WITH(apply_overrides(f.table, {{"greylist.weight", "3"}}),
                    "command line: greylist.weight has moved: write it as score under [greylist]");
  // Not an option: not in --help, the dump or the generated files.
  CHECK(f.table.find("greylist.weight") == nullptr);
  CHECK(example_file(f.table).find("weight =") == std::string::npos);
  CHECK_THROWS_AS(f.table.add_moved("ldap.base", "ldap.nowhere"), std::logic_error);
  CHECK_THROWS_AS(f.table.add_moved("listen", "workers"), std::logic_error);
}

TEST_CASE("A section that only held moved options is still a known section", "[config]") {
  Fixture f;
  f.table.add_moved("spamd.weight", "greylist.score");
  CHECK(f.error_for("[spamd]\nweight = 3\n") ==
        f.path() + ":2: spamd.weight has moved: write it as score under [greylist]");
}
