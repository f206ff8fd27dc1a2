// Reading what ComfyUI's PyTorch path runs from comfy/ops.py. The texts below have the shape of
// the three kinds of comfy/ops.py (comfyui_sdpa.h); the pinned a125cd84 file itself is read by
// tests/scripts/test_comfyui_sdpa.py.
#include "common/comfyui_sdpa.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace autotune {
namespace {

const char* kCudnnFirst = R"(
try:
    if torch.cuda.is_available():
        from torch.nn.attention import SDPBackend, sdpa_kernel
        if "set_priority" in inspect.signature(sdpa_kernel).parameters:
            SDPA_BACKEND_PRIORITY = [
                SDPBackend.FLASH_ATTENTION,
                SDPBackend.EFFICIENT_ATTENTION,
                SDPBackend.MATH,
            ]
            SDPA_BACKEND_PRIORITY.insert(0, SDPBackend.CUDNN_ATTENTION)
)";

const char* kWindowsOnly = R"(
    if torch.cuda.is_available() and comfy.model_management.WINDOWS:
            SDPA_BACKEND_PRIORITY = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
            SDPA_BACKEND_PRIORITY.insert(0, SDPBackend.CUDNN_ATTENTION)
)";

const char* kFlashFirstAboveASize = R"(
    if torch.cuda.is_available():
            SDPA_BACKEND_PRIORITY = [
                SDPBackend.FLASH_ATTENTION,
                SDPBackend.CUDNN_ATTENTION,
                SDPBackend.EFFICIENT_ATTENTION,
                SDPBackend.MATH,
            ]
            def scaled_dot_product_attention(q, k, v, *args, **kwargs):
                if q.nelement() < 1024 * 128:  # small inputs
                    return torch.nn.functional.scaled_dot_product_attention(q, k, v, *args, **kwargs)
)";

TEST(ComfySdpa, ReadsEachKindOfOpsPy) {
  const auto a = parse_comfyui_ops(kCudnnFirst);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->signature(), "CUDNN_ATTENTION>FLASH_ATTENTION>EFFICIENT_ATTENTION>MATH");
  EXPECT_EQ(*a, comfyui_a125cd84_sdpa());
  const auto w = parse_comfyui_ops(kWindowsOnly);
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->order.empty());
  EXPECT_EQ(w->signature(), "torch");
  const auto f = parse_comfyui_ops(kFlashFirstAboveASize);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->order.front(), "FLASH_ATTENTION");
  EXPECT_EQ(f->min_elements, 131072);
  EXPECT_EQ(f->signature(), "FLASH_ATTENTION>CUDNN_ATTENTION>EFFICIENT_ATTENTION>MATH below 131072: torch");
  EXPECT_FALSE(parse_comfyui_ops("import torch\n"));
  EXPECT_FALSE(parse_comfyui_ops("SDPA_BACKEND_PRIORITY = [SDPBackend.WARP_DRIVE]"));
}

TEST(ComfySdpa, JsonRoundTripsAndNamesBadValues) {
  const ComfySdpa f = *parse_comfyui_ops(kFlashFirstAboveASize);
  EXPECT_EQ(nlohmann::json(f).get<ComfySdpa>(), f);
  auto bad = [](const char* text) {
    try {
      nlohmann::json::parse(text).get<ComfySdpa>();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(bad(R"({"order":["WARP"]})").find("unknown kernel 'WARP'"), std::string::npos);
  EXPECT_NE(bad(R"({"order":[],"min_elements":-3})").find("-3"), std::string::npos);
  EXPECT_NE(bad(R"([1])").find("expected an object"), std::string::npos);
}

}  // namespace
}  // namespace autotune
