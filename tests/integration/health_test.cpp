// Health endpoints, the metric names CONTRACT.md promises, problem+json errors.
#include "support/integration_fixture.hpp"

namespace peregrine::test {
namespace {

class HealthTest : public IntegrationTest {};

TEST_F(HealthTest, ProbesMetricsAndErrors) {
  ASSERT_TRUE(start_server());
  EXPECT_EQ(get("/livez").status, 200);
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 200);

  // One good and one rejected message, so labelled families have a sample.
  const std::string id = device("h");
  mqtt().publish_all({{telemetry_topic(id), telemetry(now_ms() - 60'000, 1, {{"co", 1.0}}).dump()},
                      {telemetry_topic(id), R"({"co": )"}});
  ASSERT_TRUE(wait_rows(1, id));
  ASSERT_TRUE(eventually([&] {
    return metric("peregrine_ingest_rejected_total", {{"reason", "malformed_json"}}) == 1;
  }));

  const auto m = get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos) << m.header("content-type");
  for (const char* name :
       {"peregrine_ingest_messages_total", "peregrine_ingest_readings_total",
        "peregrine_ingest_rejected_total", "peregrine_ingest_gaps_total",
        "peregrine_storage_rows_written_total", "peregrine_storage_write_errors_total",
        "peregrine_storage_queue_depth", "peregrine_storage_batch_seconds",
        "peregrine_ws_connections", "peregrine_http_requests_total",
        "peregrine_http_request_seconds", "peregrine_mqtt_connected", "peregrine_pg_connected",
        "peregrine_redis_connected", "process_resident_memory_bytes",
        "process_cpu_seconds_total"}) {
    EXPECT_TRUE(has_metric(m.body, name)) << name << " missing from /metrics";
  }
  EXPECT_EQ(metric_value(m.body, "peregrine_mqtt_connected"), 1);
  EXPECT_EQ(metric_value(m.body, "peregrine_pg_connected"), 1);
  EXPECT_EQ(metric_value(m.body, "peregrine_redis_connected"), 1);
  EXPECT_GE(metric_value(m.body, "peregrine_ingest_messages_total").value_or(0), 1);
  EXPECT_EQ(metric_value(m.body, "peregrine_ingest_readings_total"), 1);
  EXPECT_GE(metric_value(m.body, "peregrine_storage_rows_written_total").value_or(0), 1);
  EXPECT_GT(metric_value(m.body, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GE(metric_value(m.body, "peregrine_http_requests_total").value_or(0), 3);

  const auto missing = get("/api/v1/devices/" + device("nobody"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.header("content-type").find("application/problem+json"), std::string::npos);
  EXPECT_EQ(missing.json().value("status", 0), 404) << missing.body;

  const auto page = get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.header("content-type").find("text/html"), std::string::npos);
}

}  // namespace
}  // namespace peregrine::test
