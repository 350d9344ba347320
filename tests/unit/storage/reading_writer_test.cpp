#include <peregrine/storage/reading_writer.hpp>

#include <filesystem>
#include <random>
#include <vector>

#include "commit_cutter.hpp"
#include "pg_test.hpp"

namespace peregrine::storage {
namespace {

using ReadingWriterTest = testing::PgTest;

constexpr core::Micros kDay = 86'400'000'000;
constexpr core::Micros kJan1st2020 = 1'577'836'800'000'000;  // far from today: partitions on demand

devices::DeviceRecord device(std::string id) {
  devices::DeviceRecord rec;
  rec.id = std::move(id);
  rec.name = "Pump 1";
  rec.type = "pump";
  return rec;
}

TEST_F(ReadingWriterTest, WritesEveryRowAcrossDaysOnStop) {
  migrate_db();
  metrics::Registry metrics;
  ReadingWriter writer({.target = target(), .batch_rows = 1000}, metrics);
  writer.start();

  writer.declare_device(device("pump-1"));
  writer.declare_series(1, core::kDefaultTenant, "pump-1", "temp");
  writer.declare_series(2, core::kDefaultTenant, "pump-1", "flow");
  constexpr int kRows = 10'000;
  std::vector<ingest::StoredRow> rows;
  for (int i = 0; i < kRows; ++i) {
    // 3 UTC days, sub-millisecond timestamps, values that need 17 digits.
    rows.push_back({static_cast<core::SeriesKey>(1 + i % 2),
                    kJan1st2020 + i * (3 * kDay / kRows) + 7, i * 0.1 + 1.0 / 3});
    if (rows.size() == 250) {
      writer.append(rows);
      rows.clear();
    }
  }
  devices::DeviceRecord state = device("pump-1");
  state.last_seen = kJan1st2020 + 3 * kDay;
  state.online = true;
  state.last_seq = 41;
  writer.update_device(state);
  state.last_seq = 42;  // coalesced: the latest wins
  state.seq_gaps = 3;
  writer.update_device(state);
  writer.stop();

  EXPECT_EQ(writer.queue_depth(), 0u);
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings"), kRows);
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM pg_class WHERE relname IN "
                             "('readings_raw_p20200101', 'readings_raw_p20200102', "
                             "'readings_raw_p20200103')"),
            3);

  pqxx::connection c(url_);
  pqxx::read_transaction tx(c);
  const auto result = tx.exec(
      "SELECT device_id, metric, (extract(epoch FROM ts) * 1000000)::bigint, value, tenant_id "
      "FROM readings ORDER BY ts");
  ASSERT_EQ(result.size(), static_cast<std::size_t>(kRows));
  for (int i = 0; i < kRows; ++i) {
    const auto row = result[i];
    ASSERT_EQ(row[0].as<std::string>(), "pump-1");
    ASSERT_EQ(row[1].as<std::string>(), i % 2 == 0 ? "temp" : "flow");
    ASSERT_EQ(row[2].as<core::Micros>(), kJan1st2020 + i * (3 * kDay / kRows) + 7) << i;
    ASSERT_EQ(row[3].as<double>(), i * 0.1 + 1.0 / 3) << i;
    ASSERT_EQ(row[4].as<core::TenantId>(), core::kDefaultTenant);
  }
  const auto dev = tx.exec1(
      "SELECT name, type, online, last_seq, seq_gaps, "
      "(extract(epoch FROM last_seen) * 1000000)::bigint FROM devices WHERE id = 'pump-1'");
  EXPECT_EQ(dev[0].as<std::string>(), "Pump 1");
  EXPECT_EQ(dev[1].as<std::string>(), "pump");
  EXPECT_TRUE(dev[2].as<bool>());
  EXPECT_EQ(dev[3].as<std::int64_t>(), 42);
  EXPECT_EQ(dev[4].as<std::int64_t>(), 3);
  EXPECT_EQ(dev[5].as<core::Micros>(), kJan1st2020 + 3 * kDay);

  const std::string text = metrics.render();
  EXPECT_NE(text.find("peregrine_storage_rows_written_total 10000"), std::string::npos) << text;
  EXPECT_NE(text.find("peregrine_storage_queue_depth 0"), std::string::npos) << text;
  EXPECT_NE(text.find("peregrine_storage_batch_seconds_bucket"), std::string::npos) << text;
}

TEST_F(ReadingWriterTest, RetentionDropsOnlyTheDaysPastIt) {
  migrate_db();
  {
    pqxx::connection c(url_);
    pqxx::work w(c);
    w.exec("SELECT peregrine_create_day_partition(current_date - d) FROM generate_series(1, 5) d");
    w.commit();
  }
  metrics::Registry metrics;
  ReadingWriter writer({.target = target(), .retention_days = 3}, metrics);
  writer.start();
  writer.declare_device(device("pump-1"));
  writer.declare_series(1, core::kDefaultTenant, "pump-1", "temp");
  const core::Micros now = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  writer.append(std::vector<ingest::StoredRow>{{1, now, 1.5}});
  writer.stop();
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings"), 1);
  // Kept: the last 3 days (today, yesterday, the day before) and those ahead.
  EXPECT_EQ(query_value<std::string>(
                "SELECT string_agg((current_date - d)::text, ',' ORDER BY d) FROM "
                "generate_series(0, 5) d WHERE to_regclass('readings_raw_p' || "
                "to_char(current_date - d, 'YYYYMMDD')) IS NOT NULL"),
            query_value<std::string>("SELECT string_agg((current_date - d)::text, ',' ORDER BY d) "
                                     "FROM generate_series(0, 2) d"));
}

TEST_F(ReadingWriterTest, ACommitInDoubtThatHadSucceededIsNotWrittenAgain) {
  migrate_db();
  // postgresql://user@host:PORT/db: the writer goes through the cutter.
  const auto colon = url_.find(':', url_.find('@'));
  const auto slash = url_.find('/', colon);
  testing::CommitCutter cutter(std::stoi(url_.substr(colon + 1, slash - colon - 1)));
  PgTarget through = target();
  through.url.replace(colon + 1, slash - colon - 1, std::to_string(cutter.port()));

  metrics::Registry metrics;
  ReadingWriter writer({.target = through}, metrics);
  writer.start();
  writer.declare_device(device("pump-1"));
  writer.declare_series(1, core::kDefaultTenant, "pump-1", "temp");
  std::vector<ingest::StoredRow> rows;
  for (int i = 0; i < 500; ++i) rows.push_back({1, kJan1st2020 + i, i * 1.0});
  writer.append(rows);
  writer.stop();

  ASSERT_TRUE(cutter.cut()) << "the COMMIT was never cut: the test proved nothing";
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings"), 500);
  EXPECT_EQ(query_value<int>("SELECT count(DISTINCT ts) FROM readings"), 500);
  EXPECT_EQ(writer.queue_depth(), 0u);
}

TEST_F(ReadingWriterTest, RejectedDeclarationsAreCountedAndRowsStillLand) {
  migrate_db();
  metrics::Registry metrics;
  ReadingWriter writer({.target = target()}, metrics);
  writer.start();
  writer.declare_device(device("not a valid id!"));  // violates the CHECK constraint
  const ingest::StoredRow row{9, kJan1st2020, 1.5};
  writer.append({&row, 1});
  writer.stop();

  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings_raw"), 1);
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM devices"), 0);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("peregrine_storage_rows_written_total 1"), std::string::npos) << text;
  EXPECT_EQ(text.find("peregrine_storage_write_errors_total 0"), std::string::npos) << text;
}

TEST_F(ReadingWriterTest, PressureRisesAboveQueueRowsAndClearsWhenDrained) {
  migrate_db();
  metrics::Registry metrics;
  ReadingWriter writer({.target = target(), .queue_rows = 100}, metrics);
  writer.declare_device(device("pump-1"));
  writer.declare_series(1, core::kDefaultTenant, "pump-1", "temp");
  std::vector<ingest::StoredRow> rows(150, ingest::StoredRow{1, kJan1st2020, 2.0});
  writer.append(rows);
  EXPECT_TRUE(writer.pressure());
  EXPECT_EQ(writer.queue_depth(), 150u);

  writer.start();
  writer.stop();
  EXPECT_FALSE(writer.pressure());
  EXPECT_EQ(writer.queue_depth(), 0u);
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings"), 150);
}

TEST_F(ReadingWriterTest, StopGivesUpAfterTheDeadlineWhenPostgresIsUnreachable) {
  metrics::Registry metrics;
  // Port 1 on localhost refuses connections.
  ReadingWriter writer({.target = {"postgresql://postgres@127.0.0.1:1/none", "peregrine_app", ""}}, metrics);
  writer.start();
  const ingest::StoredRow row{1, kJan1st2020, 1.0};
  writer.append({&row, 1});
  writer.stop(std::chrono::seconds(1));
  EXPECT_FALSE(writer.connected());
  EXPECT_EQ(writer.queue_depth(), 0u);
  EXPECT_NE(metrics.render().find("peregrine_storage_rows_dropped_total 1"), std::string::npos);
}

// A throwaway spill directory, removed after the test.
struct TempDir {
  TempDir() {
    std::random_device rd;
    path = (std::filesystem::temp_directory_path() / ("spill-w-" + std::to_string(rd()))).string();
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

double metric_value(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

TEST_F(ReadingWriterTest, RowsSpilledWhilePostgresIsDownLandExactlyOnceLater) {
  migrate_db();
  TempDir dir;
  constexpr int kRows = 3000;
  {
    metrics::Registry metrics;
    ReadingWriter writer({.target = {"postgresql://postgres@127.0.0.1:1/none", "peregrine_app", ""},
                          .queue_rows = 2000,
                          .spill_dir = dir.path},
                         metrics);
    writer.start();
    writer.declare_device(device("pump-1"));
    writer.declare_series(1, core::kDefaultTenant, "pump-1", "temp");
    std::vector<ingest::StoredRow> rows;
    for (int i = 0; i < kRows; ++i) {
      rows.push_back({1, kJan1st2020 + i * (kDay / 1000), i * 0.5});
      if (rows.size() == 500) {
        writer.append(rows);  // above queue_rows / 2 the held rows go to the spill
        rows.clear();
      }
    }
    writer.stop(std::chrono::seconds(1));  // PostgreSQL is away: what is left is spilled at once
    EXPECT_EQ(writer.queue_depth(), 0u);
    EXPECT_FALSE(writer.pressure());
    const std::string text = metrics.render();
    EXPECT_EQ(metric_value(text, "peregrine_storage_spilled_rows_total"), kRows) << text;
    EXPECT_EQ(metric_value(text, "peregrine_storage_rows_dropped_total"), 0) << text;
    EXPECT_GT(metric_value(text, "peregrine_storage_spill_bytes"), kRows * 20) << text;
  }
  ASSERT_TRUE(std::filesystem::exists(dir.path + "/spill.log"));

  metrics::Registry metrics;
  ReadingWriter writer({.target = target(), .spill_dir = dir.path}, metrics);
  writer.start();
  const ingest::StoredRow later{1, kJan1st2020 + 5 * kDay, 99.0};
  writer.append({&later, 1});
  writer.stop();
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings WHERE device_id = 'pump-1'"), kRows + 1);
  EXPECT_EQ(query_value<int>("SELECT count(DISTINCT ts) FROM readings"), kRows + 1);
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM series WHERE id = 1 AND metric = 'temp'"), 1);
  EXPECT_EQ(query_value<double>("SELECT sum(value) FROM readings_raw WHERE ts < '2020-01-05'"),
            0.5 * (kRows - 1) * kRows / 2);
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/spill.log"));
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/spill.offset"));
  const std::string text = metrics.render();
  EXPECT_EQ(metric_value(text, "peregrine_storage_replayed_rows_total"), kRows) << text;
  EXPECT_EQ(metric_value(text, "peregrine_storage_spill_bytes"), 0) << text;
}

TEST_F(ReadingWriterTest, ReplaySpillAtStartUpWritesWhatAStoppedWriterSpilled) {
  migrate_db();
  TempDir dir;
  {
    metrics::Registry metrics;
    ReadingWriter writer({.target = {"postgresql://postgres@127.0.0.1:1/none", "peregrine_app", ""},
                          .spill_dir = dir.path},
                         metrics);
    writer.start();
    writer.declare_device(device("pump-2"));
    writer.declare_series(7, core::kDefaultTenant, "pump-2", "flow");
    std::vector<ingest::StoredRow> rows;
    for (int i = 0; i < 10; ++i) rows.push_back({7, kJan1st2020 + i, 1.0 * i});
    writer.append(rows);
    writer.stop(std::chrono::seconds(1));
  }
  metrics::Registry metrics;
  const auto r = replay_spill(target(), dir.path, &metrics);
  EXPECT_TRUE(r.usable);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.rows, 10u);
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings WHERE device_id = 'pump-2' AND "
                             "metric = 'flow'"),
            10);
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/spill.log"));
  EXPECT_EQ(replay_spill(target(), dir.path, &metrics).rows, 0u) << "nothing twice";
  EXPECT_EQ(query_value<int>("SELECT count(*) FROM readings"), 10);
}

}  // namespace
}  // namespace peregrine::storage
