#include <peregrine/storage/query_pool.hpp>

#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <peregrine/core/errors.hpp>

#include "pg_test.hpp"

namespace peregrine::storage {
namespace {

using QueryPoolTest = testing::PgTest;
namespace asio = boost::asio;

TEST_F(QueryPoolTest, RunResumesOnTheLoopWithResultOrException) {
  asio::io_context io;
  migrate_db();
  QueryPool pool(target(), 2);
  int answer = 0;
  std::string error;
  bool same_thread = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        answer = co_await pool.run(Scope::all(), [](pqxx::connection& c) {
          pqxx::read_transaction tx(c);
          return tx.exec1("SELECT 41 + 1")[0].as<int>();
        });
        same_thread = io.get_executor().running_in_this_thread();
        try {
          co_await pool.run(Scope::all(), [](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec("SELECT * FROM no_such_table");
            return std::string("unreachable");
          });
        } catch (const pqxx::sql_error& e) {
          error = e.what();
        }
        // The pool thread's connection survives a SQL error.
        answer += co_await pool.run(Scope::all(), [](pqxx::connection& c) {
          pqxx::read_transaction tx(c);
          return tx.exec1("SELECT 1")[0].as<int>();
        });
      },
      asio::detached);
  io.run();
  pool.stop();

  EXPECT_EQ(answer, 43);
  EXPECT_TRUE(same_thread);
  EXPECT_NE(error.find("no_such_table"), std::string::npos) << error;
}

}  // namespace
}  // namespace peregrine::storage

namespace peregrine::storage {
namespace {

// A full pool refuses at once (the HTTP server answers 503) instead of
// queueing; the refusal is counted and the pool serves again once a slot frees.
TEST_F(QueryPoolTest, AFullPoolRefusesAndCounts) {
  asio::io_context io;
  migrate_db();
  metrics::Registry metrics;
  QueryPool pool(target(), 1, 1, &metrics);  // one running, one waiting
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  int done = 0;
  bool refused = false;
  auto slow = [&]() -> asio::awaitable<void> {
    co_await pool.run(Scope::all(), [&](pqxx::connection&) {
      released.wait();
      return 0;
    });
    ++done;
  };
  asio::co_spawn(io, slow, asio::detached);
  asio::co_spawn(io, slow, asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await pool.run(Scope::all(), [&](pqxx::connection&) { return 0; });
        } catch (const core::Overloaded&) {
          refused = true;
        }
        release.set_value();
      },
      asio::detached);
  io.run();
  pool.stop();
  EXPECT_TRUE(refused);
  EXPECT_EQ(done, 2);
  EXPECT_NE(metrics.render().find("peregrine_query_pool_rejected_total 1"), std::string::npos);
}

}  // namespace
}  // namespace peregrine::storage
