#include "common/override.h"

#include <string>

#include <gtest/gtest.h>

namespace autotune {
namespace {

using M = Mechanism;

Fingerprint venv_with(std::initializer_list<const char*> packages) {
  Fingerprint env;
  env.venv = "/workspace/venv";
  env.packages["torch"] = "2.11.0+cu130";
  for (const char* p : packages) env.packages[p] = "1.0";
  return env;
}

GpuInfo gpu(int major, int minor) {
  GpuInfo g;
  g.name = "test GPU";
  g.cc_major = major;
  g.cc_minor = minor;
  return g;
}

const Fingerprint kAll = venv_with({"flash_attn", "flash_attn_3", "sageattention", "xformers", "triton"});
const GpuInfo kH100 = gpu(9, 0);

Override parse(const std::optional<std::string>& value, const Fingerprint& env = kAll, const GpuInfo* g = &kH100,
               const std::optional<std::string>& written = std::nullopt) {
  return parse_override(value, written, env, g);
}

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "'" << needle << "' not in: " << text;
}

TEST(Override, EveryValidNameIsHonoured) {
  // All seven run on an H100 with everything installed.
  for (M m : kAllMechanisms) {
    const std::string name(to_string(m));
    const Override o = parse(name);
    ASSERT_TRUE(o.mechanism.has_value()) << name << ": " << o.message;
    EXPECT_EQ(*o.mechanism, m);
    EXPECT_EQ(o.message, "override COMFYUI_ATTENTION_MECHANISM=" + name);
  }
}

TEST(Override, CaseInsensitiveAndTrimmed) {
  EXPECT_EQ(parse("  SAGE \n").mechanism, M::sage);
  EXPECT_EQ(parse("Flash3").mechanism, M::flash3);
  EXPECT_EQ(parse("\txformers\r\n").mechanism, M::xformers);
  EXPECT_EQ(parse("PyTorch").mechanism, M::pytorch);
}

TEST(Override, AutoEmptyAndUnsetMeanAutoSilently) {
  for (const std::optional<std::string>& value :
       {std::optional<std::string>{}, std::optional<std::string>{""}, std::optional<std::string>{"   "},
        std::optional<std::string>{"auto"}, std::optional<std::string>{" AUTO\n"}}) {
    const Override o = parse(value);
    EXPECT_FALSE(o.mechanism.has_value()) << value.value_or("<unset>");
    EXPECT_EQ(o.message, "") << value.value_or("<unset>");
  }
}

TEST(Override, UnknownValueNamesItAndTheValidSet) {
  const Override o = parse("flash4");
  EXPECT_FALSE(o.mechanism.has_value());
  expect_contains(o.message, "COMFYUI_ATTENTION_MECHANISM='flash4'");
  expect_contains(o.message, "flash3|flash2|sage|xformers|pytorch|split|quad|auto");
  expect_contains(o.message, "using auto");
}

TEST(Override, UninstalledBackendNamesPackageAndVenv) {
  const Override o = parse("sage", venv_with({"flash_attn", "xformers"}));
  EXPECT_FALSE(o.mechanism.has_value());
  expect_contains(o.message, "'sage'");
  expect_contains(o.message, "sageattention is not installed in /workspace/venv");
  expect_contains(o.message, "using auto");

  const Override fa3 = parse("FLASH3", venv_with({"flash_attn"}));
  EXPECT_FALSE(fa3.mechanism.has_value());
  expect_contains(fa3.message, "flash_attn_3 is not installed in /workspace/venv");
}

TEST(Override, BackendWithoutAKernelForTheGpu) {
  const GpuInfo b200 = gpu(10, 0);
  const Override sage = parse("sage", kAll, &b200);
  EXPECT_FALSE(sage.mechanism.has_value());
  expect_contains(sage.message, "SageAttention 2.2 has no kernel for compute capability 10.0");
  expect_contains(sage.message, "using auto");

  const GpuInfo a100 = gpu(8, 0);
  const Override fa3 = parse("flash3", kAll, &a100);
  EXPECT_FALSE(fa3.mechanism.has_value());
  expect_contains(fa3.message, "Hopper (9.0) only, not 8.0");

  const GpuInfo rtx5090 = gpu(12, 0);
  EXPECT_FALSE(parse("flash2", kAll, &rtx5090).mechanism.has_value());
  EXPECT_EQ(parse("sage", kAll, &rtx5090).mechanism, M::sage);
}

TEST(Override, WithoutAGpuOnlyInstallationIsChecked) {
  EXPECT_EQ(parse("xformers", kAll, nullptr).mechanism, M::xformers);
  EXPECT_FALSE(parse("xformers", venv_with({}), nullptr).mechanism.has_value());
}

TEST(Override, OurOwnEarlierOutputIsNotAnOverride) {
  // A shell that sourced our .env_settings carries both variables, equal: decide afresh.
  const Override ours = parse("sage", kAll, &kH100, "sage");
  EXPECT_FALSE(ours.mechanism.has_value());
  expect_contains(ours.message, "AUTOTUNE_WRITTEN_MECHANISM");
  EXPECT_FALSE(parse(" Sage ", kAll, &kH100, "sage").mechanism.has_value());

  // The user changed the variable after sourcing: that is an override.
  EXPECT_EQ(parse("flash3", kAll, &kH100, "sage").mechanism, M::flash3);
  // The marker alone, with no override, is auto.
  EXPECT_FALSE(parse(std::nullopt, kAll, &kH100, "sage").mechanism.has_value());
  EXPECT_EQ(parse(std::nullopt, kAll, &kH100, "sage").message, "");
}

}  // namespace
}  // namespace autotune
