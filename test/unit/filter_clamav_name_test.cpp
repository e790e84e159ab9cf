#include <catch2/catch.hpp>
#include <string>

#include "contentfilter/scan/clamav_scanner.hpp"

using mailsan::filter::sanitize_virus_name;

TEST_CASE("a ClamAV virus name reaches a reply as printable ASCII without spaces",
          "[clamav][unit]") {
  CHECK(sanitize_virus_name("Win.Test.EICAR_HDB-1") == "Win.Test.EICAR_HDB-1");
  CHECK(sanitize_virus_name("Eicar-Test-Signature.UNOFFICIAL") ==
        "Eicar-Test-Signature.UNOFFICIAL");
  CHECK(sanitize_virus_name("bad name\r\n250 ok") == "bad_name__250_ok");
  CHECK(sanitize_virus_name(std::string("nul\0byte", 8)) == "nul_byte");
  CHECK(sanitize_virus_name("caf\xc3\xa9") == "caf__");
  CHECK(sanitize_virus_name("") == "unnamed");
  CHECK(sanitize_virus_name(std::string(500, 'A')).size() == 200);
}
