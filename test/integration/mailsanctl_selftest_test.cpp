// `mailsanctl selftest` against a real Postfix with no filter behind it:
// nothing there scans, so no probe may be reported as handled. A refusal
// before end of DATA (here the relay check at RCPT, with the very code a
// virus gets) must be named with its stage, and the exit must say failure.
// Also the recipient taken from the greeting, or the MX's address literal.
#include <catch2/catch.hpp>
#include <string>

#include "test/support/postfix_instance.hpp"
#include "test/support/process.hpp"

namespace mailsan::test {

TEST_CASE("selftest reports a probe refused at RCPT as NOT OK with the stage",
          "[mailsanctl][selftest]") {
  PostfixSettings s;
  s.name = "selftest-rcpt";
  PostfixInstance mx(s);
  // From outside mynetworks to a domain the MX does not serve: Postfix
  // refuses the recipient with 554 5.7.1, before any message is sent.
  auto r =
      run({MAILSANCTL_BIN, "selftest", "--mx", mx.address() + ":" + std::to_string(mx.smtp_port()),
           "--source", "127.0.0.100", "--to", "nobody@elsewhere.test"});
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find(
            "NOT OK  clean: expected accepted at end of DATA; refused at RCPT: 554 5.7.1") !=
        std::string::npos);
  CHECK(r.output.find("NOT OK  gtube: expected refused as spam at end of DATA; refused at RCPT: "
                      "554 5.7.1") != std::string::npos);
  CHECK(r.output.find("NOT OK  eicar: expected refused as a virus at end of DATA; refused at "
                      "RCPT: 554 5.7.1") != std::string::npos);
  CHECK(r.output.find("ok      ") == std::string::npos);
}

TEST_CASE("selftest writes to postmaster at the name the MX greets with",
          "[mailsanctl][selftest]") {
  PostfixSettings s;
  s.name = "selftest-greeting";
  s.hostname = "mx1.test";
  s.local_domains = {"mx1.test", "example.test"};
  PostfixInstance mx(s);
  auto r = run(
      {MAILSANCTL_BIN, "selftest", "--mx", mx.address() + ":" + std::to_string(mx.smtp_port())});
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.output.find("ok      clean: expected accepted; got 250") != std::string::npos);
  // Nothing scans: GTUBE goes through, and that is a failure of the MX.
  CHECK(r.output.find("NOT OK  gtube: expected refused as spam at end of DATA; accepted at end "
                      "of DATA: 250") != std::string::npos);
  CHECK(r.output.find("(to <postmaster@mx1.test>)") != std::string::npos);
  auto delivered = mx.wait_for_delivered(3);
  CHECK(delivered.front().recipient == "postmaster@mx1.test");
}

TEST_CASE("selftest writes to the MX's address literal when the greeting names no domain",
          "[mailsanctl][selftest]") {
  PostfixSettings s;
  s.name = "selftest-literal";
  s.listen_address = "127.0.0.10";
  s.extra_main_cf = "smtpd_banner = ESMTP test\n";
  PostfixInstance mx(s);
  auto r = run({MAILSANCTL_BIN, "selftest", "--mx", "127.0.0.10:" + std::to_string(mx.smtp_port()),
                "--source", "127.0.0.1"});
  INFO(r.output);
  INFO(mx.maillog());
  CHECK(r.exit_code != 0);
  // The bracketed literal passes RCPT's syntax check (a bare 127.0.0.10
  // would get 501 5.1.3), so every probe reaches end of DATA.
  CHECK(r.output.find("(to <postmaster@[127.0.0.10]>)") != std::string::npos);
  CHECK(r.output.find("at RCPT") == std::string::npos);
  CHECK(r.output.find("501 5.1.3") == std::string::npos);
  CHECK(r.output.find("ok      clean: expected accepted; got 250") != std::string::npos);
  CHECK(r.output.find("NOT OK  eicar: expected refused as a virus at end of DATA; accepted at end "
                      "of DATA: 250") != std::string::npos);
}

}  // namespace mailsan::test
