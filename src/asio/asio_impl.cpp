// The single translation unit that compiles Asio's and Beast's non-template
// code (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION),
// including Asio's OpenSSL glue for HTTPS/WSS.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
