#include <peregrine/storage/query_pool.hpp>

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

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
