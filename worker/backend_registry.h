// The closed set of backend adapters the worker knows, as data the CLI can list
// (`autotune-bench --list-backends`). Torch-free, so the parent and the tests can use it too.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autotune::bench {

enum class BackendKind {
  native,  // through LibTorch in C++
  python,  // a library in the ComfyUI venv, through the embedded interpreter
};

// Layout the kernel itself takes; the adapter does ComfyUI's reshapes around it.
enum class KernelLayout { bhld, blhd };

struct BackendInfo {
  std::string id;
  BackendKind kind = BackendKind::native;
  std::string module;    // python: module to import ("flash_attn")
  std::string function;  // python: attribute of the module ("flash_attn_func")
  KernelLayout kernel_layout = KernelLayout::bhld;
  // Relative error bound against the float32 reference. Exact kernels land near 2.3e-3 in bf16
  // on the H100 (DESIGN.md); 1e-2 leaves room for fp16 and long sequences. Sage quantises Q/K to
  // int8 and P/V to fp8: 3.5e-2 to 4.1e-2 measured on randn, more on the activation-like set,
  // so it gets 8e-2 (backend_registry.cpp, kSageTolerance).
  double tolerance = 1e-2;
  bool quantized = false;  // excluded when the job says exclude_quantized
  // Where the kernel exists, as sm numbers (major * 10 + minor): at least min_sm (0: any), and
  // one of only_sm where that is not empty. See capability_gate.
  int min_sm = 0;
  std::vector<int> only_sm;
  // A kernel of a library that has its own entry (`sage`'s kernels one by one): a route
  // candidate only, measured while it can still win its shape (worker.cpp, kVariantRace).
  std::string variant_of;
  // Where the library's own entry runs exactly this kernel with these arguments (sageattn's
  // dispatch): measured once, as the library, there. See duplicate_gate.
  std::vector<int> library_runs_it_on;
  // A fallback that the fused kernels outrun by far from this sm on (0: measured everywhere): not
  // measured there. See outrun_gate.
  int outrun_from_sm = 0;
  std::string description;
};

// Every built-in adapter, in the order the worker runs them.
const std::vector<BackendInfo>& builtin_backends();

// "sdpa_comfy, sdpa_cudnn, ..." for messages.
std::string builtin_backend_names();

std::optional<BackendInfo> find_builtin(std::string_view id);

// Why `b` cannot run on a GPU of compute capability `capability` ("9.0"), or empty where it can.
// An empty capability (the CPU) passes every backend: the CI's stand-ins run everywhere.
std::string capability_gate(const BackendInfo& b, std::string_view capability);

// Why `b` is not measured on `capability` although it runs there: its library's own entry runs
// the same call (BackendInfo::library_runs_it_on). Empty otherwise, and on the CPU.
std::string duplicate_gate(const BackendInfo& b, std::string_view capability);

// Why `b` is not measured on `capability` although it runs there: a fallback the fused kernels
// outrun by far (BackendInfo::outrun_from_sm). Empty otherwise, and on the CPU.
std::string outrun_gate(const BackendInfo& b, std::string_view capability);

}  // namespace autotune::bench
