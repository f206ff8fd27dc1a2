// The embedded CPython interpreter: imports the attention libraries from the ComfyUI venv and
// calls them on LibTorch tensors shared through DLPack (no copies). Started only when a Python
// backend is asked for: `import torch` alone costs seconds (DESIGN.md).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "worker/backend_registry.h"
#include "common/workload.h"

typedef struct _object PyObject;

namespace autotune::bench {

// A Python exception, as "TypeName: message".
class PythonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ProbeResult {
  bool installed = false;
  std::string version;
  std::string reason;  // the import error when not installed
};

// An owned reference.
class PyRef {
 public:
  PyRef() = default;
  explicit PyRef(PyObject* o) : o_(o) {}
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  PyRef(PyRef&& r) noexcept : o_(r.o_) { r.o_ = nullptr; }
  PyRef& operator=(PyRef&& r) noexcept;
  ~PyRef();
  PyObject* get() const { return o_; }
  explicit operator bool() const { return o_ != nullptr; }

 private:
  PyObject* o_ = nullptr;
};

class PythonEnv {
 public:
  // Starts the interpreter on first use, with `paths` in front of sys.path.
  static PythonEnv& instance(const std::vector<std::string>& paths);
  static bool started();
  static std::string version();  // "3.12.3" (the linked libpython)

  ProbeResult probe(const BackendInfo& b);
  // torch.utils.dlpack, which every call's tensors pass through (make_call imports it otherwise).
  void import_torch();

  // Hands the interpreter from the thread that started it to another one (Job::overlap_imports):
  // release_gil() on the starting thread, a Gil on the other for as long as it calls Python, then
  // take_gil() on the starting thread. Both are no-ops where the interpreter never started.
  static void release_gil();
  static void take_gil();
  class Gil {
   public:
    Gil();  // PyGILState_Ensure
    ~Gil();
    Gil(const Gil&) = delete;
    Gil& operator=(const Gil&) = delete;

   private:
    int state_;
  };

  // A Python callable f(q, k, v) -> output (B, Lq, H*D) that does ComfyUI's reshapes around the
  // library call for this backend and layout.
  PyRef make_call(const BackendInfo& b, const Workload& w);

  // One small call of the backend per shape class on `device` ("cuda:0"), on a side stream, so
  // that its first-call costs fall outside the measurements; errors are left to them. Seconds.
  struct WarmShape {
    bool flat;
    int heads, head_dim, q_len, kv_len;
  };
  double warm(const BackendInfo& b, const std::vector<WarmShape>& shapes, const std::string& dtype,
              const std::string& device);

  PyRef to_python(const at::Tensor& t);    // DLPack capsule -> torch.utils.dlpack.from_dlpack
  at::Tensor from_python(PyObject* obj);   // to_dlpack -> at::fromDLPack; throws if not a tensor
  PyRef tuple3(PyRef a, PyRef b, PyRef c);
  // Calls f(*args); throws PythonError. Returns the result.
  PyRef call(PyObject* f, PyObject* args);

 private:
  PythonEnv(const std::vector<std::string>& paths);
  PyRef adapters_;  // the embedded adapter module
  PyRef from_dlpack_, to_dlpack_;
};

}  // namespace autotune::bench
