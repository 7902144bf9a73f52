// The GPU scan's thermometer L1 (src/cuda/thermo_l1.h) against the scalar reference on random
// codes, on every pair of levels in every coordinate, and on the extreme words.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "adamas/key_codes.h"
#include "cuda/thermo_l1.h"
#include "test_util.h"

namespace adamas::cuda {
namespace {

int reference_word_l1(uint64_t a, uint64_t b) {
  uint8_t ca[8], cb[8];
  std::memcpy(ca, &a, 8);
  std::memcpy(cb, &b, 8);
  return l1_distance_ref(ca, cb, 32);
}

TEST(ThermoL1Test, MatchesTheReferenceOnRandomWords) {
  const uint64_t seed = testing::test_seed() + 83;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 200000; ++i) {
    const uint64_t q = rng(), k = rng();
    ASSERT_EQ(l1_distance_thermo(k, thermo_word(q)), reference_word_l1(q, k)) << std::hex << q << " " << k;
    ASSERT_EQ(l1_distance_thermo(k, thermo_word(q)), l1_distance_word(q, k));
  }
}

TEST(ThermoL1Test, EveryLevelPairInEveryCoordinate) {
  for (int coordinate = 0; coordinate < 32; ++coordinate)
    for (uint64_t qv = 0; qv < 4; ++qv)
      for (uint64_t kv = 0; kv < 4; ++kv) {
        const uint64_t q = qv << (2 * coordinate), k = kv << (2 * coordinate);
        const int expected = static_cast<int>(qv > kv ? qv - kv : kv - qv);
        ASSERT_EQ(l1_distance_thermo(k, thermo_word(q)), expected) << coordinate << " " << qv << " " << kv;
      }
  EXPECT_EQ(l1_distance_thermo(~0ull, thermo_word(0)), 96);
  EXPECT_EQ(l1_distance_thermo(0, thermo_word(~0ull)), 96);
  EXPECT_EQ(l1_distance_thermo(0x5555555555555555ull, thermo_word(0xaaaaaaaaaaaaaaaaull)), 32);
}

}  // namespace
}  // namespace adamas::cuda
