// A reader that finds a damaged published file sets it aside with a rename. When that rename
// fails with ENOENT, another pod set the file aside (or pruned it) first: its warning, not ours,
// whatever a later stat says. On MooseFS with mfsentrycacheto a client can still find, by name,
// a file that another client renamed away (tests/cache/moosefs_behaviour.py), so read_one
// decides on the rename's error, not on fs::exists after it (cache/README.md).
//
// The local disk never shows such a stale name, so this test makes one: it replaces rename(2),
// which std::filesystem::rename calls, with one that fails for one chosen path and leaves the
// file in place, as a stale client would. Its own executable, so no other test runs with it.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cerrno>
#include <string>

#include "cache/published.h"
#include "cache/records.h"
#include "tests/boot/test_support.h"

namespace {

std::string fail_from;  // rename(2) of this path fails with fail_errno and renames nothing
int fail_errno = 0;

}  // namespace

extern "C" int rename(const char* from, const char* to) {
  if (!fail_from.empty() && fail_from == from) {
    errno = fail_errno;
    return -1;
  }
  using Rename = int (*)(const char*, const char*);
  static const auto real = reinterpret_cast<Rename>(::dlsym(RTLD_NEXT, "rename"));
  return real(from, to);
}

namespace autotune {
namespace {
namespace fs = std::filesystem;

CacheKey key() {
  CacheKey k;
  k.gpu_name = "NVIDIA H100 80GB HBM3";
  k.compute_capability = "9.0";
  k.driver = "580.159.04";
  k.torch = "2.11.0+cu130";
  return k;
}

class SetAsideRename : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(pub_);
    DecisionRecord d;
    d.key = key();
    d.backends = "flash_attn_3=3.0.0b1";
    d.decision.mechanism = Mechanism::flash3;
    d.decision.default_backend = default_backend_of(Mechanism::flash3);
    d.decided_at = "2026-11-25T10:00:00.000Z";
    RecordSet good;
    good.add(d);
    publish(pub_, good);
    // Not SQLite, named as an older autotune named its files (no decisions suffix), so
    // lookup_decision opens it, first: its stamp is later than the good file's decision.
    damaged_ = pub_ / ("pub-" + key_hash(key()) + "-20261125T110000.000Z-pod-12-0badcafe.sqlite");
    testing::write_file(damaged_, "not a published file");
  }
  void TearDown() override { fail_from.clear(); }

  // Makes the rename that would set the damaged file aside fail with `err`, the file left in place.
  void fail_set_aside(int err) {
    fail_from = damaged_.string();
    fail_errno = err;
  }

  testing::TempDir tmp_;
  const fs::path pub_ = tmp_.path() / "published";
  fs::path damaged_;
};

TEST_F(SetAsideRename, RenameFailingWithEnoentIsAnotherPodsSetAsideEvenWhileTheNameStillExists) {
  fail_set_aside(ENOENT);
  const ReadReport r = lookup_decision(pub_, key(), "flash_attn_3=3.0.0b1");
  ASSERT_TRUE(fs::exists(damaged_));  // the stale name a client's entry cache still finds
  EXPECT_TRUE(r.warnings.empty()) << ::testing::PrintToString(r.warnings);
  EXPECT_TRUE(r.set_aside.empty());
  ASSERT_EQ(r.read.size(), 1u);  // the good file, read after the damaged one was skipped
  EXPECT_NE(r.read[0], damaged_);
  ASSERT_EQ(r.records.decisions.size(), 1u);
  EXPECT_EQ(r.records.decisions.begin()->second.decision.mechanism, Mechanism::flash3);

  const ReadReport all = read_published(pub_, key());
  EXPECT_TRUE(all.warnings.empty()) << ::testing::PrintToString(all.warnings);
  EXPECT_EQ(all.read.size(), 1u);
}

TEST_F(SetAsideRename, RenameFailingOtherwiseIsWarned) {
  fail_set_aside(EIO);
  const ReadReport r = lookup_decision(pub_, key(), "flash_attn_3=3.0.0b1");
  ASSERT_EQ(r.warnings.size(), 1u) << ::testing::PrintToString(r.warnings);
  EXPECT_NE(r.warnings[0].find("could not be set aside"), std::string::npos) << r.warnings[0];
  EXPECT_TRUE(r.set_aside.empty());
  EXPECT_EQ(r.records.decisions.size(), 1u);
}

TEST_F(SetAsideRename, RenameThatWorksSetsTheFileAsideWithOneWarning) {
  const ReadReport r = lookup_decision(pub_, key(), "flash_attn_3=3.0.0b1");
  ASSERT_EQ(r.set_aside.size(), 1u);
  EXPECT_FALSE(fs::exists(damaged_));
  EXPECT_TRUE(fs::exists(r.set_aside[0]));
  ASSERT_EQ(r.warnings.size(), 1u) << ::testing::PrintToString(r.warnings);
  EXPECT_NE(r.warnings[0].find("set aside as"), std::string::npos) << r.warnings[0];
}

}  // namespace
}  // namespace autotune
