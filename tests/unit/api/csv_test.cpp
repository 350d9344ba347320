// The bulk import's CSV reader: RFC 4180 quoting, CRLF or LF, blank lines,
// and the line of a broken quote.
#include "api/csv.hpp"

#include <gtest/gtest.h>

namespace peregrine::api {
namespace {

TEST(Csv, QuotedFieldsCommasQuotesAndNewlines) {
  std::size_t bad = 0;
  const auto r = parse_csv("id,name\r\na,\"x, \"\"y\"\"\"\n\nb,\"two\nlines\"\nc,\n", bad);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0], (CsvRecord{"id", "name"}));
  EXPECT_EQ((*r)[1], (CsvRecord{"a", "x, \"y\""}));
  EXPECT_EQ((*r)[2], (CsvRecord{"b", "two\nlines"}));
  EXPECT_EQ((*r)[3], (CsvRecord{"c", ""}));
}

TEST(Csv, ABrokenQuoteNamesItsLine) {
  std::size_t bad = 0;
  EXPECT_FALSE(parse_csv("id\na\n\"open", bad).has_value());
  EXPECT_EQ(bad, 3u);
  EXPECT_FALSE(parse_csv("id\nx\"y\n", bad).has_value());
  EXPECT_EQ(bad, 2u);
  EXPECT_FALSE(parse_csv("id\n\"a\"b\n", bad).has_value());
}

TEST(Csv, NoTrailingNewlineAndEmptyInput) {
  std::size_t bad = 0;
  EXPECT_EQ(parse_csv("a,b", bad)->size(), 1u);
  EXPECT_TRUE(parse_csv("", bad)->empty());
}

}  // namespace
}  // namespace peregrine::api
