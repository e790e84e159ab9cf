// Signature databases for tests of the ClamAV engine: none is packaged and
// nothing can be downloaded, so tests build their own in a directory of
// theirs — an .ndb body signature for the EICAR test string and an .hdb
// hash signature (`sigtool --md5`) for clam.exe from clamav-testfiles,
// which every sample in that package contains, packed or archived. Called
// by tests in test/integration only.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mailsan::test {

// The EICAR anti-virus test string (68 bytes).
inline constexpr std::string_view kEicar =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

// The names libclamav reports for the signatures below: it marks every
// signature from an unsigned database ".UNOFFICIAL".
inline constexpr std::string_view kEicarVirus = "Eicar-Test-Signature.UNOFFICIAL";
inline constexpr std::string_view kClamTestVirus = "ClamAV-Test-File.UNOFFICIAL";

// Debian's clamav-testfiles.
std::filesystem::path clamav_testfiles_dir();

// Writes eicar.ndb (Eicar-Test-Signature) and test.hdb (ClamAV-Test-File,
// from `sigtool --md5 clam.exe`) into dir, which must exist.
void write_test_clamav_db(const std::filesystem::path& dir);

// Adds dir/STEM.ndb with one signature `name` matching `bytes` anywhere in
// any file. Written aside and renamed, so a reader never sees half of it.
void add_clamav_signature(const std::filesystem::path& dir, const std::string& stem,
                          const std::string& name, std::string_view bytes);

// Adds dir/STEM.ndb with `count` signatures of random 20-byte strings that
// no test message holds: a database large enough that building an engine
// from it takes a measurable time (about half a second for 200,000).
void add_filler_signatures(const std::filesystem::path& dir, const std::string& stem,
                           std::size_t count);

}  // namespace mailsan::test
