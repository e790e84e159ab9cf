// The one Catch2 main of each test executable.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
