#include "tuner/bench/python_env.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <ATen/DLConvertor.h>

namespace autotune::bench {
namespace {

// The adapters, in Python because ComfyUI's are: the host time of the reshapes and of the call
// through the interpreter is part of what a user pays. Each mirrors the ComfyUI function named.
constexpr const char* kAdapterSource = R"PY(
import importlib, sys

def probe(module, function, dists):
    mod = importlib.import_module(module)
    getattr(mod, function)
    version = getattr(mod, "__version__", None)
    if not version:
        version = getattr(sys.modules.get(module.split(".")[0]), "__version__", None)
    if not version:
        import importlib.metadata as md
        for d in dists:
            try:
                version = md.version(d)
                break
            except Exception:
                pass
    return str(version or "")

def _first(out):
    # FA3 returns the output, some versions (out, lse); FA2 with return_attn_probs a triple.
    return out[0] if isinstance(out, (tuple, list)) else out

def make_call(backend, module, function, kernel_layout, flat, heads):
    fn = getattr(importlib.import_module(module), function)

    def to_heads(t):  # ComfyUI _reshape_qkv_to_heads: (B, L, H*D) -> (B, L, H, D), a view
        b, _, inner = t.shape
        return t.unsqueeze(3).reshape(b, -1, heads, inner // heads)

    if backend in ("flash2", "flash3"):
        # attention_flash: (B, H, L, D) views, transposed to (B, L, H, D) for the library.
        if backend == "flash2":
            lib = lambda q, k, v: fn(q, k, v, dropout_p=0.0, causal=False, softmax_scale=None)
        else:
            lib = lambda q, k, v: fn(q, k, v, softmax_scale=None, causal=False)
        def call(q, k, v):
            b = q.shape[0]
            if flat:
                q, k, v = (to_heads(t).transpose(1, 2) for t in (q, k, v))
            d = q.shape[-1]
            out = _first(lib(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))).transpose(1, 2)
            return out.transpose(1, 2).reshape(b, -1, heads * d)
        return call

    if backend == "sage":
        # attention_sage: NHD for (B, L, H*D) inputs, HND for (B, H, L, D).
        def call(q, k, v):
            b = q.shape[0]
            if flat:
                q, k, v = (to_heads(t) for t in (q, k, v))
                d = q.shape[-1]
                out = fn(q, k, v, is_causal=False, tensor_layout="NHD", sm_scale=None, smooth_k=False)
                return out.reshape(b, -1, heads * d)
            d = q.shape[-1]
            out = fn(q, k, v, is_causal=False, tensor_layout="HND", sm_scale=None, smooth_k=False)
            return out.transpose(1, 2).reshape(b, -1, heads * d)
        return call

    if backend == "xformers":
        # attention_xformers: (B, L, H, D) in, reshape(b, -1, heads * dim_head) out.
        def call(q, k, v):
            b = q.shape[0]
            if flat:
                q, k, v = (to_heads(t) for t in (q, k, v))
            else:
                q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))
            d = q.shape[-1]
            out = fn(q, k, v, attn_bias=None, scale=None)
            return out.reshape(b, -1, heads * d)
        return call

    # A job-supplied function f(q, k, v) -> out in kernel_layout ("blhd" or "bhld").
    def call(q, k, v):
        b = q.shape[0]
        if flat:
            q, k, v = (to_heads(t).transpose(1, 2) for t in (q, k, v))
        d = q.shape[-1]
        if kernel_layout == "blhd":
            out = _first(fn(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))).transpose(1, 2)
        else:
            out = _first(fn(q, k, v))
        return out.transpose(1, 2).reshape(b, -1, heads * d)
    return call
)PY";

std::string fetch_error() {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  std::string msg = "unknown Python error";
  if (type) {
    PyObject* name = PyObject_GetAttrString(type, "__name__");
    if (name && PyUnicode_Check(name)) msg = PyUnicode_AsUTF8(name);
    Py_XDECREF(name);
  }
  if (value) {
    PyObject* s = PyObject_Str(value);
    if (s && PyUnicode_Check(s)) {
      const std::string text = PyUnicode_AsUTF8(s);
      if (!text.empty()) msg += ": " + text;
    }
    Py_XDECREF(s);
  }
  PyErr_Clear();
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return msg;
}

PyRef check(PyObject* o) {
  if (!o) throw PythonError(fetch_error());
  return PyRef(o);
}

void capsule_destructor(PyObject* capsule) {
  // Only a capsule nobody consumed still owns its tensor (from_dlpack renames it when it takes it).
  if (PyCapsule_IsValid(capsule, "dltensor")) {
    auto* t = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (t && t->deleter) t->deleter(t);
  }
}

std::vector<std::string> dist_names(const BackendInfo& b) {
  if (b.id == "flash2") return {"flash_attn", "flash-attn"};
  if (b.id == "flash3") return {"flash_attn_3", "flash-attn-3", "flashattn-hopper"};
  if (b.id == "sage") return {"sageattention"};
  if (b.id == "xformers") return {"xformers"};
  return {b.module.substr(0, b.module.find('.'))};
}

bool g_started = false;
PyThreadState* g_released = nullptr;  // the starting thread's, while another holds the GIL
}  // namespace

PyRef& PyRef::operator=(PyRef&& r) noexcept {
  if (this != &r) {
    Py_XDECREF(o_);
    o_ = r.o_;
    r.o_ = nullptr;
  }
  return *this;
}
PyRef::~PyRef() { Py_XDECREF(o_); }

bool PythonEnv::started() { return g_started; }
std::string PythonEnv::version() {
  const std::string v = Py_GetVersion();  // "3.12.3 (main, ...) [GCC ...]"
  return v.substr(0, v.find(' '));
}

PythonEnv& PythonEnv::instance(const std::vector<std::string>& paths) {
  static PythonEnv env(paths);
  return env;
}

PythonEnv::PythonEnv(const std::vector<std::string>& paths) {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  // Leave SIGINT and friends to the parent's defaults; a Python handler would swallow them.
  config.install_signal_handlers = 0;
  // Without a program name Python looks up "python3" on PATH (a pyenv shim here) and takes its
  // prefix; name the interpreter the worker was built against, as DESIGN.md asks for FindPython.
  PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, AUTOTUNE_PYTHON_EXECUTABLE);
  if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st))
    throw PythonError(std::string("cannot start Python: ") + (st.err_msg ? st.err_msg : "?"));
  g_started = true;
  PyRef sys = check(PyImport_ImportModule("sys"));
  PyRef path = check(PyObject_GetAttrString(sys.get(), "path"));
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
    PyRef p = check(PyUnicode_FromString(it->c_str()));
    if (PyList_Insert(path.get(), 0, p.get()) != 0) throw PythonError(fetch_error());
  }
  PyRef code = check(Py_CompileString(kAdapterSource, "<autotune_adapters>", Py_file_input));
  adapters_ = check(PyImport_ExecCodeModule("autotune_adapters", code.get()));
}

void PythonEnv::import_torch() {
  if (from_dlpack_) return;
  PyRef dl = check(PyImport_ImportModule("torch.utils.dlpack"));
  from_dlpack_ = check(PyObject_GetAttrString(dl.get(), "from_dlpack"));
  to_dlpack_ = check(PyObject_GetAttrString(dl.get(), "to_dlpack"));
}

void PythonEnv::release_gil() {
  if (g_started && !g_released) g_released = PyEval_SaveThread();
}

void PythonEnv::take_gil() {
  if (!g_released) return;
  PyEval_RestoreThread(g_released);
  g_released = nullptr;
}

PythonEnv::Gil::Gil() : state_(PyGILState_Ensure()) {}
PythonEnv::Gil::~Gil() { PyGILState_Release(static_cast<PyGILState_STATE>(state_)); }

ProbeResult PythonEnv::probe(const BackendInfo& b) {
  ProbeResult r;
  PyRef dists = check(PyList_New(0));
  for (const auto& d : dist_names(b)) {
    PyRef s = check(PyUnicode_FromString(d.c_str()));
    PyList_Append(dists.get(), s.get());
  }
  try {
    PyRef out = check(PyObject_CallMethod(adapters_.get(), "probe", "ssO", b.module.c_str(),
                                          b.function.c_str(), dists.get()));
    r.installed = true;
    r.version = PyUnicode_AsUTF8(out.get());
  } catch (const PythonError& e) {
    r.reason = e.what();
  }
  return r;
}

PyRef PythonEnv::make_call(const BackendInfo& b, const Workload& w) {
  import_torch();
  return check(PyObject_CallMethod(adapters_.get(), "make_call", "ssssOi", b.id.c_str(),
                                   b.module.c_str(), b.function.c_str(),
                                   b.kernel_layout == KernelLayout::blhd ? "blhd" : "bhld",
                                   w.layout == Layout::blhd_flat ? Py_True : Py_False, w.heads));
}

PyRef PythonEnv::to_python(const at::Tensor& t) {
  import_torch();
  DLManagedTensor* dl = at::toDLPack(t);
  PyObject* capsule = PyCapsule_New(dl, "dltensor", capsule_destructor);
  if (!capsule) {
    dl->deleter(dl);
    throw PythonError(fetch_error());
  }
  PyRef cap(capsule);
  return check(PyObject_CallFunctionObjArgs(from_dlpack_.get(), cap.get(), nullptr));
}

at::Tensor PythonEnv::from_python(PyObject* obj) {
  import_torch();
  PyRef capsule = check(PyObject_CallFunctionObjArgs(to_dlpack_.get(), obj, nullptr));
  auto* dl = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.get(), "dltensor"));
  if (!dl) throw PythonError(fetch_error());
  at::Tensor t = at::fromDLPack(dl);  // takes ownership: mark the capsule consumed
  PyCapsule_SetName(capsule.get(), "used_dltensor");
  return t;
}

PyRef PythonEnv::tuple3(PyRef a, PyRef b, PyRef c) {
  return check(PyTuple_Pack(3, a.get(), b.get(), c.get()));
}

PyRef PythonEnv::call(PyObject* f, PyObject* args) { return check(PyObject_CallObject(f, args)); }

}  // namespace autotune::bench
