#pragma once
/// Handlers through the router with real repositories: a fresh migrated
/// PostgreSQL database per test (storage's PgTest), the query pool, the
/// repositories, a registry, and the routes of api::add_*_routes. `call()`
/// matches a route, sets the principal the guard would have set, runs the
/// handler on an io_context and maps a thrown Problem as the HTTP server
/// does. Skipped when PEREGRINE_TEST_PG_URL is unset (scripts/test sets it).

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <peregrine/api/context.hpp>
#include <peregrine/auth/roles.hpp>
#include <peregrine/core/errors.hpp>
#include <peregrine/http/router.hpp>
#include <peregrine/storage/query_pool.hpp>
#include <peregrine/storage/repositories.hpp>

#include "../storage/pg_test.hpp"

namespace peregrine::api::testing {

struct Reply {
  unsigned status = 0;
  nlohmann::json body;  ///< null when the body is not JSON
  std::string retry_after;
};

class ApiTest : public storage::testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    migrate_db();
    const char* redis = std::getenv("PEREGRINE_TEST_REDIS_URL");
    state_ = std::make_unique<cache::StateReader>(
        cache::parse_redis_url(redis && *redis ? redis : "redis://127.0.0.1:6379/0").value());
    pool_ = std::make_unique<storage::QueryPool>(target(), 2, 4, &metrics_);
    repos_ = std::make_unique<storage::Repositories>(*pool_);
    ctx_ = std::make_unique<Context>(Context{registry_, *repos_, *state_, metrics_, {}, {}, {}, nullptr, {}, {}});
  }
  void TearDown() override {
    if (pool_) pool_->stop();
    PgTest::TearDown();
  }

  /// The principal of a user of `tenant` with `role`.
  static http::Principal as(auth::Role role, core::TenantId tenant = core::kDefaultTenant) {
    return {1, tenant, static_cast<int>(role), "tester@example.org"};
  }

  Reply call(http::bhttp::verb method, const std::string& target, const std::string& body = "",
             std::optional<http::Principal> who = as(auth::Role::admin),
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::RawRequest raw{method, target, 11};
    raw.body() = body;
    raw.set(http::bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : headers) raw.set(k, v);
    raw.prepare_payload();
    const auto q = target.find('?');
    http::Request req{raw, std::string_view(target).substr(0, q), {}, {}, {}, {}, who, {}};
    if (q != std::string::npos) req.query = http::parse_query(std::string_view(target).substr(q + 1));
    bool mismatch = false;
    const http::Route* route = router_.match(method, req.path, req.params, mismatch);
    if (route == nullptr) {
      ADD_FAILURE() << "no route for " << target;
      return {};
    }
    std::optional<http::Response> res;
    boost::asio::co_spawn(
        io_,
        [&]() -> boost::asio::awaitable<void> {
          try {
            res = co_await route->handler(req);
          } catch (const http::Problem& p) {
            res = http::problem_response(raw, p.status, p.title, p.what());
            for (const auto& [k, v] : p.headers) res->set(k, v);
          } catch (const core::Overloaded& o) {
            res = http::problem_response(raw, 503, "Service Unavailable", o.what());
            res->set("Retry-After", std::to_string(o.retry_after_s()));
          }
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    Reply r;
    if (!res) return r;
    r.status = res->result_int();
    r.body = nlohmann::json::parse(res->body(), nullptr, false);
    if (r.body.is_discarded()) r.body = nullptr;
    if (auto it = res->find("Retry-After"); it != res->end()) r.retry_after = std::string(it->value());
    return r;
  }

  boost::asio::io_context io_;
  metrics::Registry metrics_;
  devices::Registry registry_;
  std::unique_ptr<cache::StateReader> state_;
  std::unique_ptr<storage::QueryPool> pool_;
  std::unique_ptr<storage::Repositories> repos_;
  std::unique_ptr<Context> ctx_;
  http::Router router_;
};

}  // namespace peregrine::api::testing
