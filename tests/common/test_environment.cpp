#include "common/environment.h"

#include <string>

#include <gtest/gtest.h>

namespace autotune {
namespace {

const std::filesystem::path kVenvs = std::filesystem::path(AUTOTUNE_TEST_DATA) / "venvs";

bool any_warning_contains(const Fingerprint& fp, const std::string& text) {
  for (const auto& w : fp.warnings)
    if (w.find(text) != std::string::npos) return true;
  return false;
}

TEST(Fingerprint, FullVenvFromPythonMVenv) {
  const Fingerprint fp = read_fingerprint(kVenvs / "full");
  EXPECT_EQ(fp.site_packages, kVenvs / "full/lib/python3.12/site-packages");
  EXPECT_EQ(fp.python_version, "3.12.3");
  EXPECT_EQ(fp.torch_version, "2.11.0+cu130");
  EXPECT_EQ(fp.torch_cuda, "13.0");
  const std::map<std::string, std::string> expected{
      {"torch", "2.11.0+cu130"}, {"flash_attn", "2.8.3"}, {"flash_attn_3", "3.0.0b1"},
      {"sageattention", "2.2.0"}, {"xformers", "0.0.33"}, {"triton", "3.5.0"}};
  EXPECT_EQ(fp.packages, expected);  // numpy is installed too, but not tracked
  EXPECT_TRUE(fp.warnings.empty()) << fp.warnings.front();
}

TEST(Fingerprint, UvVenvWithOddSpellings) {
  const Fingerprint fp = read_fingerprint(kVenvs / "uv");
  EXPECT_EQ(fp.python_version, "3.12.3");  // from version_info = 3.12.3.final.0
  EXPECT_EQ(fp.torch_version, "2.9.1+cu128");
  EXPECT_EQ(fp.torch_cuda, "12.8");
  // "Name: Flash-Attn" normalises to flash_attn.
  ASSERT_TRUE(fp.installed("flash_attn"));
  EXPECT_EQ(fp.packages.at("flash_attn"), "2.7.4.post1");
  // An egg-info directory's PKG-INFO counts like a dist-info's METADATA.
  ASSERT_TRUE(fp.installed("sageattention"));
  EXPECT_EQ(fp.packages.at("sageattention"), "2.1.1");
  // A bare flash_attn_interface.py (FA3 built from source) marks flash_attn_3 with an unknown version.
  ASSERT_TRUE(fp.installed("flash_attn_3"));
  EXPECT_EQ(fp.packages.at("flash_attn_3"), "unknown");
  // Metadata without a Version header (the body's "Version:" line must not count) is ignored, with a warning.
  EXPECT_FALSE(fp.installed("xformers"));
  EXPECT_TRUE(any_warning_contains(fp, "xformers-0.0.30.dist-info has no Version")) << ::testing::PrintToString(fp.warnings);
  EXPECT_FALSE(fp.installed("triton"));
}

TEST(Fingerprint, CpuTorchHasNoCuda) {
  const Fingerprint fp = read_fingerprint(kVenvs / "cpu");
  EXPECT_EQ(fp.torch_version, "2.11.0+cpu");
  EXPECT_EQ(fp.torch_cuda, "");
  // No pyvenv.cfg: the Python version comes from the lib/python3.11 folder.
  EXPECT_EQ(fp.python_version, "3.11");
  EXPECT_EQ(fp.packages, (std::map<std::string, std::string>{{"torch", "2.11.0+cpu"}}));
  EXPECT_TRUE(fp.warnings.empty());
}

TEST(Fingerprint, TorchFromMetadataWhenVersionPyIsMissing) {
  const Fingerprint fp = read_fingerprint(kVenvs / "torch_only");
  EXPECT_EQ(fp.torch_version, "2.8.0");
  EXPECT_EQ(fp.torch_cuda, "");
  EXPECT_TRUE(fp.installed("torch"));
  EXPECT_EQ(fp.packages.size(), 1u);
}

TEST(Fingerprint, MissingVenvIsAWarningNotAnError) {
  const Fingerprint fp = read_fingerprint(kVenvs / "does-not-exist");
  EXPECT_TRUE(fp.packages.empty());
  EXPECT_TRUE(fp.site_packages.empty());
  EXPECT_EQ(fp.torch_version, "");
  EXPECT_TRUE(any_warning_contains(fp, "does-not-exist does not exist"));
}

TEST(Fingerprint, VenvWithoutSitePackages) {
  const Fingerprint fp = read_fingerprint(kVenvs / "no_site");
  EXPECT_TRUE(fp.packages.empty());
  EXPECT_TRUE(fp.site_packages.empty());
  EXPECT_TRUE(any_warning_contains(fp, "no lib/python*/site-packages"));
}

TEST(PythonAssignment, ReadsPlainAndAnnotatedAssignments) {
  const std::string source =
      "from typing import Optional\n"
      "__version__ = '2.11.0+cu130'\n"
      "cuda: Optional[str] = \"13.0\"\n"
      "hip: Optional[str] = None\n"
      "cudnn = None\n"
      "git_version = compute()\n";
  EXPECT_EQ(python_assignment(source, "__version__"), "2.11.0+cu130");
  EXPECT_EQ(python_assignment(source, "cuda"), "13.0");
  EXPECT_EQ(python_assignment(source, "hip"), std::nullopt);
  EXPECT_EQ(python_assignment(source, "cudnn"), std::nullopt);
  EXPECT_EQ(python_assignment(source, "git_version"), std::nullopt);
  EXPECT_EQ(python_assignment(source, "xpu"), std::nullopt);
}

TEST(PythonAssignment, NameMustMatchWholeIdentifier) {
  // `cuda_home = '/usr'` must not be read as `cuda`.
  EXPECT_EQ(python_assignment("cuda_home = '/usr'\ncuda = '12.8'\n", "cuda"), "12.8");
}

TEST(NormalisePackage, Pep503) {
  EXPECT_EQ(normalise_package("Flash-Attn"), "flash_attn");
  EXPECT_EQ(normalise_package("flash_attn_3"), "flash_attn_3");
  EXPECT_EQ(normalise_package("SageAttention"), "sageattention");
  EXPECT_EQ(normalise_package("flash--attn..3"), "flash_attn_3");
  EXPECT_EQ(normalise_package("xformers"), "xformers");
}

}  // namespace
}  // namespace autotune

namespace autotune {
namespace {

TEST(Fingerprint, NewestPythonWinsNumerically) {
  // A venv re-created with a newer Python over an old one keeps both lib/python3.9 and
  // lib/python3.12; "python3.9" sorts after "python3.12" as text, but 3.12 is the newer.
  const Fingerprint fp = read_fingerprint(kVenvs / "two_pythons");
  EXPECT_EQ(fp.site_packages, kVenvs / "two_pythons/lib/python3.12/site-packages");
  EXPECT_EQ(fp.python_version, "3.12");
  EXPECT_EQ(fp.packages.at("xformers"), "0.0.33");
}

}  // namespace
}  // namespace autotune
