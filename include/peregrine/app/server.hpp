#pragma once
/// Wires the modules into the running server (DESIGN.md's threads: one event
/// loop, the storage writer, the Redis thread, Paho's thread, the query pool)
/// and owns start-up and shutdown order.

#include <peregrine/config/config.hpp>

namespace peregrine::app {

/// Sets up JSON-lines logging on stdout at `level`.
void init_logging(const std::string& level);

/// `peregrine migrate`: applies migrations and returns the exit code.
int migrate(const config::Config& cfg);

/// `peregrine serve`: runs until SIGTERM/SIGINT, drains readings to
/// PostgreSQL, returns the exit code (0 after a clean drain).
int serve(const config::Config& cfg);

}  // namespace peregrine::app
