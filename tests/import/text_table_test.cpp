// Unit tests of the text layer: field splitting, values, delimiters, missing tokens,
// timestamps and label maps.
#include <gtest/gtest.h>

#include <cmath>

#include "wafermill/error.hpp"
#include "wafermill/import/labels.hpp"
#include "wafermill/import/text_table.hpp"

namespace wafermill::import {
namespace {

std::vector<std::string> split(std::string_view line, char delimiter) {
  std::deque<std::string> storage;
  const auto fields = split_fields(line, delimiter, storage);
  if (!fields) return {"<unbalanced>"};
  return {fields->begin(), fields->end()};
}

using Fields = std::vector<std::string>;

TEST(SplitFields, DelimitedKeepsEmptyFields) {
  EXPECT_EQ(split("1,,3", ','), (Fields{"1", "", "3"}));
  EXPECT_EQ(split("1,2,", ','), (Fields{"1", "2", ""}));
  EXPECT_EQ(split(",", ','), (Fields{"", ""}));
  EXPECT_EQ(split("a\tb c\t", '\t'), (Fields{"a", "b c", ""}));
}

TEST(SplitFields, WhitespaceCollapsesRuns) {
  EXPECT_EQ(split("  1.5 \t -2   NaN  ", kWhitespace), (Fields{"1.5", "-2", "NaN"}));
  EXPECT_EQ(split("   ", kWhitespace), Fields{});
}

TEST(SplitFields, QuotedFields) {
  EXPECT_EQ(split("-1 \"19/07/2008 11:55:00\"", kWhitespace),
            (Fields{"-1", "19/07/2008 11:55:00"}));
  EXPECT_EQ(split("\"a,b\", \"say \"\"hi\"\"\",3", ','), (Fields{"a,b", "say \"hi\"", "3"}));
  EXPECT_EQ(split("1,\"open", ','), Fields{"<unbalanced>"});
  EXPECT_EQ(split("\"a\"x,1", ','), Fields{"<unbalanced>"});  // text after the closing quote
}

TEST(ParseValue, NumbersMissingAndGarbage) {
  const std::vector<std::string> missing = {"NaN", "NA", "?", ""};
  EXPECT_EQ(*parse_value("2187.7333", missing), 2187.7333);
  EXPECT_EQ(*parse_value(" -1.6022936 ", missing), -1.6022936);
  EXPECT_EQ(*parse_value("+3e2", missing), 300.0);
  EXPECT_EQ(*parse_value("1.0000000e+00", missing), 1.0);
  EXPECT_TRUE(std::isinf(*parse_value("inf", missing)));
  for (const char* m : {"NaN", "NA", "?", "", "  "})
    EXPECT_TRUE(std::isnan(*parse_value(m, missing))) << m;
  for (const char* bad : {"1.2.3", "abc", "1e", "--1", "0x10", "12a"}) {
    EXPECT_FALSE(parse_value(bad, missing).has_value()) << bad;
  }
  EXPECT_FALSE(parse_value("NA", {"NaN"}).has_value());  // tokens are configurable
  EXPECT_FALSE(parse_value("", {"NaN"}).has_value());
}

TEST(Delimiters, ParseAndDetect) {
  EXPECT_EQ(parse_delimiter("auto"), 0);
  EXPECT_EQ(parse_delimiter("tab"), '\t');
  EXPECT_EQ(parse_delimiter("comma"), ',');
  EXPECT_EQ(parse_delimiter("space"), kWhitespace);
  EXPECT_EQ(parse_delimiter("|"), '|');
  EXPECT_THROW(parse_delimiter("||"), UsageError);
  EXPECT_THROW(parse_delimiter("\""), UsageError);
  EXPECT_EQ(detect_delimiter("1\t2,3"), '\t');
  EXPECT_EQ(detect_delimiter("1,2;3"), ',');
  EXPECT_EQ(detect_delimiter("1;2"), ';');
  EXPECT_EQ(detect_delimiter("1 2"), kWhitespace);
}

TEST(MissingTokens, EmptyWordIsTheEmptyField) {
  const auto t = parse_missing_tokens("NaN, NA,empty,?");
  EXPECT_EQ(t, (std::vector<std::string>{"NaN", "NA", "", "?"}));
  EXPECT_EQ(missing_tokens_text(t), "NaN,NA,empty,?");
}

TEST(Timestamps, UtcSecondsAgainstPython) {
  // Reference values: calendar.timegm(datetime.strptime(s, "%d/%m/%Y %H:%M:%S").timetuple()).
  const char* f = "%d/%m/%Y %H:%M:%S";
  EXPECT_EQ(parse_timestamp("19/07/2008 11:55:00", f), 1216468500);
  EXPECT_EQ(parse_timestamp("17/10/2008 06:07:00", f), 1224223620);
  EXPECT_EQ(parse_timestamp("29/02/2000 23:59:59", f), 951868799);
  EXPECT_EQ(parse_timestamp("01/01/1970 00:00:00", f), 0);
  EXPECT_EQ(parse_timestamp("31/12/1969 23:59:59", f), -1);
  EXPECT_EQ(parse_timestamp("2008-07-19T11:55:00", "%Y-%m-%dT%H:%M:%S"), 1216468500);
}

TEST(Timestamps, RejectsMismatchAndOutOfRange) {
  const char* f = "%d/%m/%Y %H:%M:%S";
  for (const char* bad :
       {"29/02/2001 00:00:00", "31/04/2008 00:00:00", "01/13/2008 00:00:00", "01/01/2008 24:00:00",
        "01/01/2008 00:00", "01/01/2008 00:00:00x", "2008/01/01 00:00:00", ""}) {
    EXPECT_FALSE(parse_timestamp(bad, f).has_value()) << bad;
  }
}

TEST(LabelMapTest, ParsesMapsAndComparesNumbers) {
  const LabelMap ucr = LabelMap::parse("1=0,-1=1");
  EXPECT_EQ(ucr.map("1"), 0);
  EXPECT_EQ(ucr.map("-1"), 1);
  EXPECT_EQ(ucr.map("1.0000000e+00"), 0);
  EXPECT_EQ(ucr.map("-1.0"), 1);
  EXPECT_FALSE(ucr.map("2").has_value());
  EXPECT_EQ(ucr.text(), "1=0,-1=1");
  const LabelMap words = LabelMap::parse("pass=0, fail=1");
  EXPECT_EQ(words.map("fail"), 1);
  EXPECT_EQ(LabelMap().map("1"), 1);
  EXPECT_EQ(LabelMap().map("0"), 0);
  EXPECT_THROW(LabelMap::parse("1=2"), UsageError);
  EXPECT_THROW(LabelMap::parse("1"), UsageError);
  EXPECT_THROW(LabelMap::parse("=1"), UsageError);
}

}  // namespace
}  // namespace wafermill::import
