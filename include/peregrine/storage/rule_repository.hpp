#pragma once
/// Alert rules in PostgreSQL (`rules`, migrations/0002_rules_alerts.sql),
/// always within one tenant, and the backtest of a rule over that tenant's
/// stored readings. The running rules::Engine is not touched here: handlers
/// apply a change to it after the write committed. Methods are awaited on
/// the event loop and run on the query pool; every write lands with its
/// audit entry in one transaction.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <peregrine/core/types.hpp>
#include <peregrine/rules/backtest.hpp>
#include <peregrine/rules/rule.hpp>
#include <peregrine/storage/audit_repository.hpp>
#include <peregrine/storage/outcome.hpp>

namespace peregrine::storage {

class QueryPool;

/// A stored rule (id and tenant set) with its row's times.
struct RuleRecord {
  rules::Rule rule;
  core::Micros created_at = 0;
  core::Micros updated_at = 0;
};

/// A stored rule whose body no longer validates (stored before a validation
/// change): still listed and deletable, never run.
struct UnparsedRule {
  rules::RuleId id = 0;
  nlohmann::json body;  ///< the stored body as JSON, without `id` (kRuleBodySql)
};

/// What a read finds in a `rules` row.
using StoredRule = std::variant<RuleRecord, UnparsedRule>;

/// The readings a backtest replays: the rule's metric in [from, to).
struct BacktestRange {
  core::Micros from = 0;
  core::Micros to = 0;
  /// nullopt: every device of the tenant; else these devices (none: no readings).
  std::optional<std::vector<std::string>> devices;
  std::size_t max_rows = 1'000'000;           ///< more readings than this: too_many_readings
  std::chrono::milliseconds timeout{30'000};  ///< the read's statement_timeout
};

struct BacktestRun {
  enum class Status {
    done,
    too_many_readings,  ///< the range holds more than max_rows readings
    timed_out,          ///< reading the range took longer than the timeout
  };
  Status status = Status::done;
  rules::BacktestResult result;  ///< when done
};

class RuleRepository {
 public:
  explicit RuleRepository(QueryPool& pool) : pool_(pool) {}

  /// The tenant's rules by id, after `page.after`.
  boost::asio::awaitable<Page<StoredRule>> list(core::TenantId tenant,
                                                PageRequest<std::int64_t> page);
  /// Not found also for another tenant's rule.
  boost::asio::awaitable<Outcome<StoredRule>> get(core::TenantId tenant, rules::RuleId id);
  /// Stores a validated rule (its id is ignored) in `tenant`; the audit
  /// target becomes `rule:<new id>`. Returns it with id and tenant set.
  boost::asio::awaitable<Outcome<RuleRecord>> create(core::TenantId tenant, rules::Rule rule,
                                                     AuditEntry audit);
  /// Reads the rule with its row locked, applies `patch` (rules::merge_rule)
  /// and writes it back, in one transaction, so concurrent PATCHes cannot
  /// lose each other's fields. Not found; invalid (422) or bad_input (400)
  /// naming the field when the merged rule does not validate, or invalid
  /// when the stored rule itself no longer does. No audit entry unless written.
  boost::asio::awaitable<Outcome<RuleRecord>> update(core::TenantId tenant, rules::RuleId id,
                                                     nlohmann::json patch, AuditEntry audit);
  /// Not found also for another tenant's rule.
  boost::asio::awaitable<Outcome<Done>> remove(core::TenantId tenant, rules::RuleId id,
                                               AuditEntry audit);
  /// Reads the readings of `rule.metric` in `range` (ordered by ts, device)
  /// and replays them through rules::backtest, both on the pool thread, so a
  /// long backtest never holds the event loop.
  boost::asio::awaitable<BacktestRun> backtest(core::TenantId tenant, rules::Rule rule,
                                               BacktestRange range);

 private:
  QueryPool& pool_;
};

}  // namespace peregrine::storage
