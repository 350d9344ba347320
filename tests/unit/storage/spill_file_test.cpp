#include "storage/spill_file.hpp"

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

namespace peregrine::storage {
namespace {

namespace fs = std::filesystem;

class SpillFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = (fs::temp_directory_path() / ("spill-test-" + std::to_string(rd()))).string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SpillFile> open(std::uint64_t max_bytes = 1 << 20) {
    std::string error;
    auto spill = SpillFile::open(dir_, max_bytes, error);
    EXPECT_TRUE(spill) << error;
    return spill;
  }

  std::string dir_;
};

SpillRecord record(std::int64_t id, int rows) {
  SpillRecord rec;
  rec.id = id;
  rec.doubt_id = id * 10;
  rec.doubt_rows = 3;
  rec.batch.devices.push_back({"pump-" + std::to_string(id), 7, "Pump", "pump"});
  rec.batch.series.push_back({static_cast<core::SeriesKey>(id), 7, "pump-1", "temp"});
  rec.batch.states["pump-1"] = {123456, true, std::nullopt, 4};
  for (int i = 0; i < rows; ++i)
    rec.batch.rows.push_back({static_cast<core::SeriesKey>(id), 1'000'000LL * i + 7, i / 3.0});
  return rec;
}

void expect_same(const SpillRecord& a, const SpillRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.doubt_id, b.doubt_id);
  EXPECT_EQ(a.doubt_rows, b.doubt_rows);
  ASSERT_EQ(a.batch.devices.size(), b.batch.devices.size());
  EXPECT_EQ(a.batch.devices[0].id, b.batch.devices[0].id);
  EXPECT_EQ(a.batch.devices[0].tenant, b.batch.devices[0].tenant);
  EXPECT_EQ(a.batch.devices[0].type, b.batch.devices[0].type);
  ASSERT_EQ(a.batch.series.size(), b.batch.series.size());
  EXPECT_EQ(a.batch.series[0].key, b.batch.series[0].key);
  EXPECT_EQ(a.batch.series[0].metric, b.batch.series[0].metric);
  ASSERT_EQ(a.batch.states.size(), 1u);
  const auto& st = b.batch.states.at("pump-1");
  EXPECT_EQ(st.last_seen, core::Micros{123456});
  EXPECT_TRUE(st.online);
  EXPECT_FALSE(st.last_seq);
  EXPECT_EQ(st.seq_gaps, 4u);
  ASSERT_EQ(a.batch.rows.size(), b.batch.rows.size());
  for (std::size_t i = 0; i < a.batch.rows.size(); ++i) {
    EXPECT_EQ(a.batch.rows[i].series, b.batch.rows[i].series);
    EXPECT_EQ(a.batch.rows[i].ts_us, b.batch.rows[i].ts_us);
    EXPECT_EQ(a.batch.rows[i].value, b.batch.rows[i].value);
  }
}

TEST_F(SpillFileTest, RecordsComeBackInOrderAndTheFilesGoWhenAllAreCommitted) {
  {
    auto spill = open();
    EXPECT_TRUE(spill->empty());
    std::string error;
    ASSERT_EQ(spill->append(record(1, 100), error), SpillFile::Append::ok) << error;
    ASSERT_EQ(spill->append(record(2, 5), error), SpillFile::Append::ok) << error;
    EXPECT_GT(spill->pending_bytes(), 100u * 20);
  }
  auto spill = open();
  SpillRecord rec;
  std::string error;
  ASSERT_TRUE(spill->next(rec, error)) << error;
  expect_same(record(1, 100), rec);
  ASSERT_TRUE(spill->next(rec, error)) << "not committed: the same record again";
  EXPECT_EQ(rec.id, 1);
  ASSERT_TRUE(spill->commit(error)) << error;
  ASSERT_TRUE(spill->next(rec, error)) << error;
  expect_same(record(2, 5), rec);
  ASSERT_TRUE(spill->commit(error)) << error;
  EXPECT_TRUE(spill->empty());
  EXPECT_FALSE(spill->next(rec, error));
  EXPECT_FALSE(fs::exists(dir_ + "/spill.log"));
  EXPECT_FALSE(fs::exists(dir_ + "/spill.offset"));
}

TEST_F(SpillFileTest, ATornTailIsIgnoredAndLaterAppendsStillRead) {
  std::uintmax_t good = 0;
  {
    auto spill = open();
    std::string error;
    ASSERT_EQ(spill->append(record(1, 10), error), SpillFile::Append::ok) << error;
    ASSERT_EQ(spill->append(record(2, 10), error), SpillFile::Append::ok) << error;
    good = fs::file_size(dir_ + "/spill.log");
  }
  {
    // A crash half-way through a third append; then a record with a bad checksum.
    std::string frame;
    {
      auto spill = open();
      std::string error;
      ASSERT_EQ(spill->append(record(3, 10), error), SpillFile::Append::ok);
    }
    std::ifstream in(dir_ + "/spill.log", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    frame = all.substr(good);
    fs::resize_file(dir_ + "/spill.log", good);
    std::ofstream out(dir_ + "/spill.log", std::ios::binary | std::ios::app);
    out << frame.substr(0, frame.size() / 2);
  }
  {
    auto spill = open();
    EXPECT_EQ(fs::file_size(dir_ + "/spill.log"), good) << "the torn tail is cut off";
    std::string error;
    ASSERT_EQ(spill->append(record(4, 10), error), SpillFile::Append::ok);
  }
  {
    std::fstream f(dir_ + "/spill.log", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(good) + 40);
    f.put('\x7f');  // the checksum of record 4 no longer matches
  }
  auto spill = open();
  std::vector<std::int64_t> ids;
  SpillRecord rec;
  std::string error;
  while (spill->next(rec, error)) {
    ids.push_back(rec.id);
    ASSERT_TRUE(spill->commit(error)) << error;
  }
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(spill->empty());
}

TEST_F(SpillFileTest, AppendsBeyondTheCapAreRefused) {
  auto spill = open(4096);
  std::string error;
  EXPECT_EQ(spill->append(record(1, 100), error), SpillFile::Append::ok);
  EXPECT_EQ(spill->append(record(2, 100), error), SpillFile::Append::full);
  EXPECT_EQ(spill->append(record(3, 10), error), SpillFile::Append::ok) << "small enough still fits";
  SpillRecord rec;
  ASSERT_TRUE(spill->next(rec, error));
  ASSERT_TRUE(spill->commit(error));
  ASSERT_TRUE(spill->next(rec, error));
  EXPECT_EQ(rec.id, 3);
}

TEST_F(SpillFileTest, ReplayProgressSurvivesReopening) {
  {
    auto spill = open();
    std::string error;
    for (int id = 1; id <= 3; ++id)
      ASSERT_EQ(spill->append(record(id, 10), error), SpillFile::Append::ok);
    SpillRecord rec;
    ASSERT_TRUE(spill->next(rec, error));
    ASSERT_TRUE(spill->commit(error));
    ASSERT_TRUE(spill->next(rec, error));  // read, not committed: a crash here
    EXPECT_EQ(rec.id, 2);
  }
  auto spill = open();
  SpillRecord rec;
  std::string error;
  ASSERT_TRUE(spill->next(rec, error));
  EXPECT_EQ(rec.id, 2);
  ASSERT_TRUE(spill->commit(error));
  ASSERT_TRUE(spill->next(rec, error));
  EXPECT_EQ(rec.id, 3);
  ASSERT_TRUE(spill->commit(error));
  EXPECT_TRUE(spill->empty());
  EXPECT_FALSE(fs::exists(dir_ + "/spill.log"));
}

TEST_F(SpillFileTest, ADirectoryThatCannotBeCreatedIsAnError) {
  std::ofstream(dir_) << "a file, not a directory";
  std::string error;
  EXPECT_FALSE(SpillFile::open(dir_ + "/sub", 1 << 20, error));
  EXPECT_FALSE(error.empty());
  fs::remove(dir_);
}

}  // namespace
}  // namespace peregrine::storage
