#include "common/mechanism.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace autotune {
namespace {

TEST(Mechanism, EveryNameRoundTrips) {
  std::set<std::string> seen;
  for (Mechanism m : kAllMechanisms) {
    const std::string name(to_string(m));
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    ASSERT_TRUE(parse_mechanism(name).has_value()) << name;
    EXPECT_EQ(*parse_mechanism(name), m);
  }
}

TEST(Mechanism, ParseIsExactLowerCase) {
  // Callers trim and lower-case (override.cpp); parse_mechanism itself accepts only the exact name.
  EXPECT_FALSE(parse_mechanism("SAGE").has_value());
  EXPECT_FALSE(parse_mechanism(" sage").has_value());
  EXPECT_FALSE(parse_mechanism("auto").has_value());
  EXPECT_FALSE(parse_mechanism("").has_value());
  EXPECT_FALSE(parse_mechanism("flash").has_value());
}

TEST(Mechanism, NamesListEveryMechanismInOrder) {
  EXPECT_EQ(mechanism_names(), "flash3|flash2|sage|xformers|pytorch|split|quad");
  EXPECT_EQ(mechanism_names(", "), "flash3, flash2, sage, xformers, pytorch, split, quad");
}

TEST(Mechanism, RequiredPackageIsTheDistributionName) {
  EXPECT_EQ(required_package(Mechanism::flash3), "flash_attn_3");
  EXPECT_EQ(required_package(Mechanism::flash2), "flash_attn");
  EXPECT_EQ(required_package(Mechanism::sage), "sageattention");
  EXPECT_EQ(required_package(Mechanism::xformers), "xformers");
  EXPECT_EQ(required_package(Mechanism::pytorch), "torch");
  EXPECT_EQ(required_package(Mechanism::split), "torch");
  EXPECT_EQ(required_package(Mechanism::quad), "torch");
}

TEST(Mechanism, ComfyuiArgsSelectThePath) {
  using Args = std::vector<std::string>;
  EXPECT_EQ(comfyui_args(Mechanism::sage), (Args{"--use-sage-attention", "--disable-xformers"}));
  EXPECT_EQ(comfyui_args(Mechanism::flash2), (Args{"--use-flash-attention", "--disable-xformers"}));
  EXPECT_EQ(comfyui_args(Mechanism::pytorch), (Args{"--use-pytorch-cross-attention", "--disable-xformers"}));
  EXPECT_EQ(comfyui_args(Mechanism::split), (Args{"--use-split-cross-attention", "--disable-xformers"}));
  EXPECT_EQ(comfyui_args(Mechanism::quad), (Args{"--use-quad-cross-attention", "--disable-xformers"}));
  // ComfyUI has no FA3 flag: the node routes FA3, the flags keep the PyTorch path for the rest.
  EXPECT_EQ(comfyui_args(Mechanism::flash3), (Args{"--use-pytorch-cross-attention", "--disable-xformers"}));
  // xformers is used whenever it imports; no flag selects it, and nothing may disable it.
  EXPECT_TRUE(comfyui_args(Mechanism::xformers).empty());
}

TEST(Mechanism, EveryNonXformersChoiceDisablesXformers) {
  for (Mechanism m : kAllMechanisms) {
    if (m == Mechanism::xformers) continue;
    const auto args = comfyui_args(m);
    EXPECT_NE(std::find(args.begin(), args.end(), "--disable-xformers"), args.end()) << to_string(m);
  }
}

TEST(Mechanism, BackendIdsMapToMechanisms) {
  EXPECT_EQ(mechanism_of_backend("sdpa_comfy"), Mechanism::pytorch);
  EXPECT_EQ(mechanism_of_backend("sdpa_cudnn"), Mechanism::pytorch);
  EXPECT_EQ(mechanism_of_backend("sdpa_flash"), Mechanism::pytorch);
  EXPECT_EQ(mechanism_of_backend("flash3"), Mechanism::flash3);
  EXPECT_EQ(mechanism_of_backend("flash2"), Mechanism::flash2);
  EXPECT_EQ(mechanism_of_backend("sage"), Mechanism::sage);
  EXPECT_EQ(mechanism_of_backend("xformers"), Mechanism::xformers);
  EXPECT_FALSE(mechanism_of_backend("triton_fancy").has_value());
  EXPECT_FALSE(mechanism_of_backend("").has_value());
}

}  // namespace
}  // namespace autotune
