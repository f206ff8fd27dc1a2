#include "common/arch_table.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace autotune {
namespace {

using M = Mechanism;

// The attention libraries the table may pick; torch is always installed in these sets.
const std::vector<std::string> kBackendPackages{"flash_attn", "flash_attn_3", "sageattention", "xformers", "triton"};

Fingerprint with_packages(const std::vector<std::string>& packages) {
  Fingerprint env;
  env.venv = "/workspace/venv";
  env.torch_version = "2.11.0+cu130";
  env.packages["torch"] = env.torch_version;
  for (const auto& p : packages) env.packages[p] = "1.0";
  return env;
}

std::vector<std::string> all_but(const std::string& missing) {
  std::vector<std::string> out;
  for (const auto& p : kBackendPackages)
    if (p != missing) out.push_back(p);
  return out;
}

// Named package sets; the expectations below are per set.
const std::map<std::string, Fingerprint>& package_sets() {
  static const std::map<std::string, Fingerprint> sets{
      {"all", with_packages(kBackendPackages)},
      {"torch_only", with_packages({})},
      {"no_flash_attn", with_packages(all_but("flash_attn"))},
      {"no_flash_attn_3", with_packages(all_but("flash_attn_3"))},
      {"no_sage", with_packages(all_but("sageattention"))},
      {"no_xformers", with_packages(all_but("xformers"))},
      {"xformers_only", with_packages({"xformers"})},
      {"sage_only", with_packages({"sageattention", "triton"})},
  };
  return sets;
}

// What the table must pick, per architecture class and package set.
const std::map<std::string, std::map<std::string, M>>& expected_choices() {
  static const std::map<std::string, std::map<std::string, M>> table{
      // Seed: Ampere/Ada -> flash2, then xformers. Sage is not in these rows.
      {"ampere_ada",
       {{"all", M::flash2}, {"torch_only", M::pytorch}, {"no_flash_attn", M::xformers},
        {"no_flash_attn_3", M::flash2}, {"no_sage", M::flash2}, {"no_xformers", M::flash2},
        {"xformers_only", M::xformers}, {"sage_only", M::pytorch}}},
      // Hopper -> flash3; without FA3, the PyTorch path (cuDNN), never FA2 or xformers.
      {"hopper",
       {{"all", M::flash3}, {"torch_only", M::pytorch}, {"no_flash_attn", M::flash3},
        {"no_flash_attn_3", M::pytorch}, {"no_sage", M::flash3}, {"no_xformers", M::flash3},
        {"xformers_only", M::pytorch}, {"sage_only", M::pytorch}}},
      // B200: Sage 2.2 has no 10.0 kernel, so never sage.
      {"blackwell_dc",
       {{"all", M::xformers}, {"torch_only", M::pytorch}, {"no_flash_attn", M::xformers},
        {"no_flash_attn_3", M::xformers}, {"no_sage", M::xformers}, {"no_xformers", M::pytorch},
        {"xformers_only", M::xformers}, {"sage_only", M::pytorch}}},
      // 12.0: sage, never flash2.
      {"blackwell",
       {{"all", M::sage}, {"torch_only", M::pytorch}, {"no_flash_attn", M::sage},
        {"no_flash_attn_3", M::sage}, {"no_sage", M::xformers}, {"no_xformers", M::sage},
        {"xformers_only", M::xformers}, {"sage_only", M::sage}}},
      // Unknown, future and pre-Ampere: xformers, the seed's universal fallback, then pytorch.
      {"fallback",
       {{"all", M::xformers}, {"torch_only", M::pytorch}, {"no_flash_attn", M::xformers},
        {"no_flash_attn_3", M::xformers}, {"no_sage", M::xformers}, {"no_xformers", M::pytorch},
        {"xformers_only", M::xformers}, {"sage_only", M::pytorch}}},
  };
  return table;
}

struct Card {
  std::string name;
  int major, minor;
  std::string klass;         // key of expected_choices()
  std::string architecture;  // arch_row(...).architecture
};

// Every GPU the project's seed document lists, plus unknown, future and old capabilities.
const std::vector<Card> kCards{
    {"NVIDIA B200", 10, 0, "blackwell_dc", "Blackwell (data centre)"},
    {"NVIDIA GeForce RTX 5090", 12, 0, "blackwell", "Blackwell"},
    {"NVIDIA GeForce RTX 5080", 12, 0, "blackwell", "Blackwell"},
    {"NVIDIA RTX PRO 6000 Blackwell Workstation Edition", 12, 0, "blackwell", "Blackwell"},
    {"NVIDIA H200", 9, 0, "hopper", "Hopper"},
    {"NVIDIA H100 NVL", 9, 0, "hopper", "Hopper"},
    {"NVIDIA H100 80GB HBM3", 9, 0, "hopper", "Hopper"},
    {"NVIDIA H100 PCIe", 9, 0, "hopper", "Hopper"},
    {"NVIDIA L4", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA L40", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA L40S", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA GeForce RTX 4090", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA GeForce RTX 4080", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA GeForce RTX 4070", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA GeForce RTX 4060", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA RTX 6000 Ada Generation", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA RTX 4000 Ada Generation", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA RTX 2000 Ada Generation", 8, 9, "ampere_ada", "Ada Lovelace"},
    {"NVIDIA A40", 8, 6, "ampere_ada", "Ampere"},
    {"NVIDIA A100-SXM4-80GB", 8, 0, "ampere_ada", "Ampere"},
    {"NVIDIA GeForce RTX 3090", 8, 6, "ampere_ada", "Ampere"},
    {"NVIDIA GeForce RTX 3080", 8, 6, "ampere_ada", "Ampere"},
    {"NVIDIA GeForce RTX 3070", 8, 6, "ampere_ada", "Ampere"},
    {"NVIDIA GeForce RTX 3060", 8, 6, "ampere_ada", "Ampere"},
    {"future GPU", 13, 0, "fallback", "unknown"},
    {"unlisted GPU", 11, 0, "fallback", "unknown"},
    {"NVIDIA T4", 7, 5, "fallback", "Turing"},
    {"NVIDIA GeForce GTX 1080 Ti", 6, 1, "fallback", "unknown"},
};

// gtest_discover_tests puts the printed parameter into the ctest name: keep it short and stable
// (the default prints the object's bytes, pointers included).
void PrintTo(const Card& card, std::ostream* os) { *os << "cc " << card.major << "." << card.minor; }

GpuInfo gpu_of(const Card& card) {
  GpuInfo g;
  g.name = card.name;
  g.cc_major = card.major;
  g.cc_minor = card.minor;
  g.simulated = true;
  return g;
}

class TablePerGpu : public ::testing::TestWithParam<Card> {};

TEST_P(TablePerGpu, ChoosesTheExpectedMechanismForEachPackageSet) {
  const Card& card = GetParam();
  const GpuInfo gpu = gpu_of(card);
  for (const auto& [set, expected] : expected_choices().at(card.klass)) {
    const TableChoice choice = table_choice(&gpu, package_sets().at(set));
    EXPECT_EQ(choice.mechanism, expected)
        << card.name << " with " << set << ": got " << to_string(choice.mechanism) << " (" << choice.reason << ")";
    EXPECT_EQ(choice.architecture, card.architecture) << card.name;
  }
}

TEST_P(TablePerGpu, NeverChoosesWhatIsNotInstalledOrNotSupported) {
  // Every subset of the attention packages, not only the named sets.
  const Card& card = GetParam();
  const GpuInfo gpu = gpu_of(card);
  const auto& row = arch_row(card.major, card.minor);
  for (unsigned mask = 0; mask < (1u << kBackendPackages.size()); ++mask) {
    std::vector<std::string> packages;
    for (std::size_t i = 0; i < kBackendPackages.size(); ++i)
      if (mask & (1u << i)) packages.push_back(kBackendPackages[i]);
    const Fingerprint env = with_packages(packages);
    const TableChoice choice = table_choice(&gpu, env);
    const std::string context = card.name + " mask " + std::to_string(mask) + " -> " + std::string(to_string(choice.mechanism));
    EXPECT_TRUE(env.installed(std::string(required_package(choice.mechanism)))) << context;
    EXPECT_EQ(unsupported_reason(choice.mechanism, card.major, card.minor), "") << context;
    EXPECT_NE(std::find(row.preference.begin(), row.preference.end(), choice.mechanism), row.preference.end())
        << context;
  }
}

INSTANTIATE_TEST_SUITE_P(SeedGpus, TablePerGpu, ::testing::ValuesIn(kCards),
                         [](const ::testing::TestParamInfo<Card>& info) {
                           std::string name;
                           for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name + "_" + std::to_string(info.index);
                         });

TEST(ArchTable, KeyedByCapabilityNotName) {
  // The starting template filed the RTX 6000 Ada as Blackwell by its name.
  GpuInfo ada = gpu_of({"NVIDIA RTX 6000 Ada Generation", 8, 9, "", ""});
  GpuInfo misleading = gpu_of({"Blackwell Hopper B200", 8, 9, "", ""});
  const auto& all = package_sets().at("all");
  EXPECT_EQ(table_choice(&ada, all).mechanism, M::flash2);
  EXPECT_EQ(table_choice(&misleading, all).mechanism, M::flash2);
  EXPECT_EQ(table_choice(&misleading, all).architecture, "Ada Lovelace");
}

TEST(ArchTable, SkipsWhatWasMeasuredBrokenAndSaysWhy) {
  GpuInfo hopper = gpu_of({"NVIDIA H200", 9, 0, "", ""});
  const auto& all = package_sets().at("all");
  const TableChoice choice =
      table_choice(&hopper, all, {{M::flash3, "measured rejected on 9 of 9 shapes (flux-1024: returned shape [1])"},
                                  {M::xformers, "measured rejected on 9 of 9 shapes"}});
  EXPECT_EQ(choice.mechanism, M::pytorch);
  EXPECT_NE(choice.reason.find("skipped flash3 (measured rejected on 9 of 9 shapes (flux-1024: returned shape [1]))"),
            std::string::npos)
      << choice.reason;
  // What is broken but not in the row says nothing; pytorch ends the row whatever happens.
  EXPECT_EQ(choice.reason.find("xformers"), std::string::npos) << choice.reason;
  GpuInfo ada = gpu_of({"NVIDIA L40S", 8, 9, "", ""});
  EXPECT_EQ(table_choice(&ada, all, {{M::flash2, "measured timeout on 1 of 9 shapes"}}).mechanism, M::xformers);
}

TEST(ArchTable, EveryRowEndsInPytorch) {
  for (const auto& row : arch_table()) {
    ASSERT_FALSE(row.preference.empty()) << row.architecture;
    EXPECT_EQ(row.preference.back(), M::pytorch) << row.architecture;
    EXPECT_FALSE(row.why.empty()) << row.architecture;
  }
  EXPECT_EQ(kUnknownArch.preference.back(), M::pytorch);
}

TEST(ArchTable, RowsDoNotOverlap) {
  const auto& rows = arch_table();
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = i + 1; j < rows.size(); ++j)
      EXPECT_FALSE(rows[i].major == rows[j].major && rows[i].minor_first <= rows[j].minor_last &&
                   rows[j].minor_first <= rows[i].minor_last)
          << rows[i].architecture << " overlaps " << rows[j].architecture;
}

TEST(ArchTable, ReasonSaysWhatWasSkippedAndWhy) {
  const auto b200 = gpu_of({"NVIDIA B200", 10, 0, "", ""});
  const auto choice = table_choice(&b200, package_sets().at("all"));
  EXPECT_NE(choice.reason.find("Blackwell (data centre) (10.0)"), std::string::npos) << choice.reason;
  EXPECT_NE(choice.reason.find("skipped sage (SageAttention 2.2 has no kernel for compute capability 10.0)"),
            std::string::npos)
      << choice.reason;

  const auto h100 = gpu_of({"NVIDIA H100 80GB HBM3", 9, 0, "", ""});
  const auto no_fa3 = table_choice(&h100, package_sets().at("no_flash_attn_3"));
  EXPECT_NE(no_fa3.reason.find("skipped flash3 (flash_attn_3 not installed)"), std::string::npos) << no_fa3.reason;

  const auto chosen_first = table_choice(&h100, package_sets().at("all"));
  EXPECT_EQ(chosen_first.reason.find("skipped"), std::string::npos) << chosen_first.reason;
}

TEST(ArchTable, NoGpuMeansPytorch) {
  const auto choice = table_choice(nullptr, package_sets().at("all"));
  EXPECT_EQ(choice.mechanism, M::pytorch);
  EXPECT_EQ(choice.architecture, "none");
  EXPECT_NE(choice.reason.find("no GPU detected"), std::string::npos);
}

TEST(UnsupportedReason, BackendKernelsPerCapability) {
  EXPECT_EQ(unsupported_reason(M::flash3, 9, 0), "");
  EXPECT_NE(unsupported_reason(M::flash3, 8, 9), "");
  EXPECT_NE(unsupported_reason(M::flash3, 10, 0), "");
  EXPECT_EQ(unsupported_reason(M::flash2, 8, 0), "");
  EXPECT_EQ(unsupported_reason(M::flash2, 9, 0), "");
  EXPECT_NE(unsupported_reason(M::flash2, 12, 0), "");
  EXPECT_NE(unsupported_reason(M::flash2, 7, 5), "");
  for (auto [major, minor] : {std::pair{8, 0}, {8, 6}, {8, 9}, {9, 0}, {12, 0}})
    EXPECT_EQ(unsupported_reason(M::sage, major, minor), "") << major << "." << minor;
  for (auto [major, minor] : {std::pair{10, 0}, {7, 5}, {8, 7}, {12, 1}, {13, 0}})
    EXPECT_EQ(unsupported_reason(M::sage, major, minor),
              "SageAttention 2.2 has no kernel for compute capability " + std::to_string(major) + "." +
                  std::to_string(minor));
  EXPECT_EQ(unsupported_reason(M::xformers, 6, 1), "");
  EXPECT_NE(unsupported_reason(M::xformers, 5, 2), "");
  EXPECT_EQ(unsupported_reason(M::pytorch, 5, 2), "");
}

TEST(ArchTable, VeryOldGpuFallsBackToPytorch) {
  const auto maxwell = gpu_of({"NVIDIA GeForce GTX 980", 5, 2, "", ""});
  EXPECT_EQ(table_choice(&maxwell, package_sets().at("all")).mechanism, M::pytorch);
}

}  // namespace
}  // namespace autotune
