// Parsing and formatting of the typed values an options table holds:
// integers, booleans, durations, sizes and lists. Pure functions on text, so
// the config file, the command line and the generated docs agree on syntax.
//
// Parsers throw std::invalid_argument with a message that describes the
// problem with the value; the caller adds the option name and file:line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::config {

// Optional sign, then decimal digits.
std::int64_t parse_integer(std::string_view text);
// Optional sign, digits, optionally a point and more digits ("5", "-0.5").
double parse_number(std::string_view text);
// The shortest form that reads back to the same value: 5 -> "5", 0.5 -> "0.5".
std::string format_number(double value);
// yes/no, true/false, on/off, 1/0 (case-insensitive).
bool parse_bool(std::string_view text);
// Seconds, or digits followed by one of s, m, h, d, w ("300", "5m", "2d").
std::chrono::seconds parse_duration(std::string_view text);
// Bytes, or digits followed by one of k, m, g (powers of 1024).
std::int64_t parse_size(std::string_view text);
// Items separated by commas and/or white space; empty items are dropped.
std::vector<std::string> split_list(std::string_view text);
// "a, b, c": the form split_list() reads back to the same items.
std::string join_list(const std::vector<std::string>& items);

// The shortest exact form with a unit: 300 -> "5m", 90 -> "90s", 0 -> "0s".
std::string format_duration(std::chrono::seconds value);
// The shortest exact form with a unit: 1048576 -> "1m", 1000 -> "1000".
std::string format_size(std::int64_t bytes);

// Leading and trailing blanks (space, tab, CR, LF) removed.
std::string_view trim(std::string_view text);

}  // namespace mailsan::config
