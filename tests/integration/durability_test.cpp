// Nothing is lost when PostgreSQL goes away for a while, or when the server is
// told to stop in the middle of a stream.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "support/integration_fixture.hpp"

namespace peregrine::test {
namespace {

class DurabilityTest : public IntegrationTest {};

// Stops the shared PostgreSQL and starts it again in every case, also when
// the test fails half-way.
class PgOutage {
 public:
  explicit PgOutage(std::string ctl) : ctl_(std::move(ctl)) {
    stopped_ = run("stop");
  }
  ~PgOutage() {
    if (stopped_) start();
  }
  PgOutage(const PgOutage&) = delete;
  PgOutage& operator=(const PgOutage&) = delete;
  bool stopped() const noexcept { return stopped_; }
  bool start() {
    if (!stopped_) return true;
    stopped_ = !run("start");
    return !stopped_;
  }

 private:
  bool run(const std::string& verb) const {
    return std::system((ctl_ + " " + verb + " >/dev/null").c_str()) == 0;
  }
  std::string ctl_;
  bool stopped_ = false;
};

TEST_F(DurabilityTest, PostgresStoppedForTenSecondsLosesNothing) {
  if (env_->pg_ctl.empty()) GTEST_SKIP() << "PEREGRINE_TEST_PG_CTL not set";
  ASSERT_TRUE(start_server());
  const std::string a = device("a"), b = device("b");
  const std::int64_t t0 = now_ms() - 1'800'000;
  int seq = 0;
  const auto batch = [&](int n) {
    std::vector<MqttMessage> msgs;
    for (int i = 0; i < n; ++i) {
      ++seq;
      for (const auto& id : {a, b})
        msgs.push_back({telemetry_topic(id),
                        telemetry(t0 + seq * 10, seq, {{"co", seq * 0.5}, {"pm25", seq * 0.25}}).dump()});
    }
    mqtt().publish_all(msgs, 1);
  };
  batch(100);
  ASSERT_TRUE(wait_rows(100 * 2 * 2));

  bool not_ready_seen = false;
  {
    PgOutage outage(env_->pg_ctl);
    ASSERT_TRUE(outage.stopped()) << "could not stop PostgreSQL with " << env_->pg_ctl;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      batch(10);
      if (!not_ready_seen) not_ready_seen = get("/readyz").status == 503;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(server_->running()) << "the server must survive a PostgreSQL outage";
    ASSERT_TRUE(outage.start()) << "could not start PostgreSQL again";
  }
  EXPECT_TRUE(not_ready_seen) << "/readyz should answer 503 while PostgreSQL is down";

  const std::int64_t expected = static_cast<std::int64_t>(seq) * 2 * 2;
  ASSERT_TRUE(wait_rows(expected, "", std::chrono::seconds(30)))
      << "published " << seq << " messages per device";
  ASSERT_TRUE(eventually([&] { return metric("peregrine_storage_queue_depth") == 0; }));
  EXPECT_EQ(db_->count_readings(), expected) << "no reading stored twice after the retries";
  const auto rows = db_->readings(a, "co");
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(seq));
  for (int i = 0; i < seq; ++i) ASSERT_EQ(rows[i].ts_us, (t0 + (i + 1) * 10) * 1000) << "#" << i;
  EXPECT_TRUE(eventually([&] { return get("/readyz").status == 200; }, std::chrono::seconds(20)))
      << "/readyz back to 200 once PostgreSQL is back";
  EXPECT_GE(metric("peregrine_storage_write_errors_total"), 1);
}

TEST_F(DurabilityTest, SigtermDrainsEverythingReceivedBeforeExit) {
  // Batches held for a while, so SIGTERM finds rows still queued.
  ASSERT_TRUE(start_server({{"PEREGRINE_STORAGE_BATCH_MS", "200"}}));
  constexpr int kPerDevice = 1000;
  const std::int64_t t0 = now_ms() - 1'200'000;
  std::vector<MqttMessage> msgs;
  for (int i = 1; i <= kPerDevice; ++i) {
    for (const auto& name : {"x", "y", "z"}) {
      msgs.push_back({telemetry_topic(device(name)),
                      telemetry(t0 + i * 5, i,
                                {{"co", i * 0.1}, {"no2", i * 0.2}, {"o3", i * 0.3}, {"temperature", 20.5}})
                          .dump()});
    }
  }
  mqtt().publish_all(msgs, 1);
  const double n = static_cast<double>(msgs.size());
  ASSERT_TRUE(eventually([&] { return metric("peregrine_ingest_messages_total") >= n; },
                         std::chrono::seconds(20), std::chrono::milliseconds(5)))
      << metrics_text();
  const auto code = server_->sigterm_and_wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value()) << "peregrine did not exit within 20 s of SIGTERM";
  EXPECT_EQ(*code, 0) << "exit code after SIGTERM";
  EXPECT_EQ(db_->count_readings(), static_cast<std::int64_t>(msgs.size()) * 4)
      << "every reading received before SIGTERM is in PostgreSQL after exit";
}

TEST_F(DurabilityTest, SigtermDuringAnOutageSpillsAndTheNextStartWritesEverythingOnce) {
  if (env_->pg_ctl.empty()) GTEST_SKIP() << "PEREGRINE_TEST_PG_CTL not set";
  const std::string spill_dir = "/tmp/peregrine-itest-spill-" + tag_;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{spill_dir};
  // A small queue: rows go to the spill while PostgreSQL is down, the rest at SIGTERM.
  const std::map<std::string, std::string> env{{"PEREGRINE_STORAGE_SPILL_DIR", spill_dir},
                                               {"PEREGRINE_STORAGE_QUEUE_ROWS", "100"}};
  ASSERT_TRUE(start_server(env));
  const std::string a = device("a"), b = device("b"), c = device("c");
  const std::int64_t t0 = now_ms() - 600'000;
  int seq = 0;
  const auto batch = [&](int n, const std::vector<std::string>& ids) {
    std::vector<MqttMessage> msgs;
    for (int i = 0; i < n; ++i) {
      ++seq;
      for (const auto& id : ids)
        msgs.push_back({telemetry_topic(id),
                        telemetry(t0 + seq * 10, seq, {{"co", seq * 0.5}, {"pm25", 1.0}}).dump()});
    }
    mqtt().publish_all(msgs, 1);
  };
  batch(50, {a, b});
  ASSERT_TRUE(wait_rows(50 * 2 * 2));
  std::int64_t expected = 50 * 2 * 2;
  {
    PgOutage outage(env_->pg_ctl);
    ASSERT_TRUE(outage.stopped()) << "could not stop PostgreSQL with " << env_->pg_ctl;
    const double before = metric("peregrine_ingest_messages_total");
    batch(300, {a, b, c});  // c is new: its device and series are declared in the spill
    expected += 300 * 3 * 2;
    ASSERT_TRUE(eventually([&] { return metric("peregrine_ingest_messages_total") >= before + 900; },
                           std::chrono::seconds(20)))
        << metrics_text();
    EXPECT_GT(metric("peregrine_storage_spilled_rows_total"), 0) << "spilled during the outage";
    // PostgreSQL is away: the writer spills what is left at once and exits.
    const auto code = server_->sigterm_and_wait(std::chrono::seconds(30));
    ASSERT_TRUE(code.has_value()) << "peregrine did not exit within 30 s of SIGTERM";
    EXPECT_EQ(*code, 0);
    EXPECT_TRUE(std::filesystem::exists(spill_dir + "/spill.log"));
    EXPECT_EQ(file_tail(log_path_).find("NOT written"), std::string::npos) << "nothing dropped";
    ASSERT_TRUE(outage.start()) << "could not start PostgreSQL again";
  }
  ASSERT_TRUE(start_server(env));
  EXPECT_EQ(db_->count_readings(), expected) << "every reading exactly once after the replay";
  EXPECT_EQ(db_->readings(c, "co").size(), 300u);
  EXPECT_EQ(metric("peregrine_storage_replayed_rows_total"), 300 * 3 * 2);
  EXPECT_FALSE(std::filesystem::exists(spill_dir + "/spill.log"));
  batch(5, {c});
  EXPECT_TRUE(wait_rows(expected + 5 * 2)) << "series keys still distinct after the replay";
}

}  // namespace
}  // namespace peregrine::test
