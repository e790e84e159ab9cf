// Compiles Boost.Asio once for the whole program (BOOST_ASIO_SEPARATE_COMPILATION),
// so that the many files using Asio only parse its declarations.
#include <boost/asio/impl/src.hpp>
