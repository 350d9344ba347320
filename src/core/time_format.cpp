#include <peregrine/core/time_format.hpp>

#include <array>
#include <cstdint>

namespace peregrine::core {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

// Howard Hinnant's civil-date algorithms (proleptic Gregorian calendar);
// exact for every representable day, no tables and no locale.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr CivilDate civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

constexpr bool is_leap(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Writes `v` as exactly `width` decimal digits ending at `end`.
void put_digits(char* end, std::int64_t v, int width) noexcept {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

// Reads exactly `n` digits at s[pos]; advances pos. -1 when not digits.
int read_digits(std::string_view s, std::size_t& pos, int n) noexcept {
  if (s.size() - pos < static_cast<std::size_t>(n)) return -1;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

}  // namespace

void append_rfc3339(std::string& out, Micros ts) {
  const std::int64_t days = floor_div(ts, kSecondsPerDay * kMicrosPerSecond);
  const std::int64_t in_day = ts - days * kSecondsPerDay * kMicrosPerSecond;
  const std::int64_t secs = in_day / kMicrosPerSecond;
  const std::int64_t frac = in_day % kMicrosPerSecond;
  const CivilDate date = civil_from_days(days);

  // "YYYY-MM-DDTHH:MM:SS.ffffffZ" is 27 characters; years outside 0..9999
  // cannot come from a timestamptz we accept, so they are clamped.
  std::array<char, 27> buf{};
  const std::int64_t year = date.year < 0 ? 0 : (date.year > 9999 ? 9999 : date.year);
  put_digits(buf.data() + 4, year, 4);
  buf[4] = '-';
  put_digits(buf.data() + 7, date.month, 2);
  buf[7] = '-';
  put_digits(buf.data() + 10, date.day, 2);
  buf[10] = 'T';
  put_digits(buf.data() + 13, secs / 3600, 2);
  buf[13] = ':';
  put_digits(buf.data() + 16, secs / 60 % 60, 2);
  buf[16] = ':';
  put_digits(buf.data() + 19, secs % 60, 2);
  buf[19] = '.';
  std::size_t len;
  if (frac % 1000 == 0) {
    put_digits(buf.data() + 23, frac / 1000, 3);
    len = 24;
  } else {
    put_digits(buf.data() + 26, frac, 6);
    len = 27;
  }
  buf[len - 1] = 'Z';
  out.append(buf.data(), len);
}

std::string format_rfc3339(Micros ts) {
  std::string s;
  s.reserve(27);
  append_rfc3339(s, ts);
  return s;
}

std::optional<Micros> parse_rfc3339(std::string_view s) noexcept {
  std::size_t pos = 0;
  auto expect = [&](char c) noexcept {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
  };

  const int year = read_digits(s, pos, 4);
  if (year < 0 || !expect('-')) return std::nullopt;
  const int month = read_digits(s, pos, 2);
  if (month < 1 || month > 12 || !expect('-')) return std::nullopt;
  const int day = read_digits(s, pos, 2);
  if (day < 1 || day > static_cast<int>(days_in_month(year, static_cast<unsigned>(month)))) {
    return std::nullopt;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  const int hour = read_digits(s, pos, 2);
  if (hour < 0 || hour > 23 || !expect(':')) return std::nullopt;
  const int minute = read_digits(s, pos, 2);
  if (minute < 0 || minute > 59 || !expect(':')) return std::nullopt;
  // 60 is a leap second; it folds into the next minute's first second.
  const int second = read_digits(s, pos, 2);
  if (second < 0 || second > 60) return std::nullopt;

  std::int64_t frac_us = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) frac_us = frac_us * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i) frac_us *= 10;
  }

  std::int64_t offset_s = 0;
  if (pos >= s.size()) return std::nullopt;
  const char tz = s[pos++];
  if (tz == '+' || tz == '-') {
    const int oh = read_digits(s, pos, 2);
    if (oh < 0 || oh > 23 || !expect(':')) return std::nullopt;
    const int om = read_digits(s, pos, 2);
    if (om < 0 || om > 59) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (tz == '-' ? -1 : 1);
  } else if (tz != 'Z' && tz != 'z') {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;

  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset_s;
  return secs * kMicrosPerSecond + frac_us;
}

}  // namespace peregrine::core
