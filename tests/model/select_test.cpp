// `fit --select`: the reference wafers chosen by clauses over /wafers/ fields and the index.
#include <gtest/gtest.h>

#include "wafermill/error.hpp"
#include "wafermill/job/fit.hpp"

namespace wj = wafermill::job;

TEST(Select, ParsesClausesJoinedByAnd) {
  const auto c = wj::parse_select("label == 0 and index % 2 == 1");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].field, "label");
  EXPECT_EQ(c[0].op, "==");
  EXPECT_EQ(c[1].field, "index");
  EXPECT_EQ(c[1].modulus, 2u);
  EXPECT_TRUE(wj::passes(c[1], 7));
  EXPECT_FALSE(wj::passes(c[1], 8));
  EXPECT_EQ(wj::parse_select("label<=1 && x>=-2.5").size(), 2u);
  EXPECT_TRUE(wj::parse_select("").empty());
}

TEST(Select, RejectsWhatItCannotRead) {
  for (const char* bad : {"label", "label = 0", "== 3", "label == zero", "index % 0 == 1", "a == 1 and"})
    EXPECT_THROW(wj::parse_select(bad), wafermill::UsageError) << bad;
}
