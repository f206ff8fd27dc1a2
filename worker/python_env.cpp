#include "worker/python_env.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <ATen/DLConvertor.h>

#include "worker/node_backends_source.h"

namespace autotune::bench {
namespace {

// The worker's side of the interpreter: the library probes, and the calls, which are the node's
// own adapters (comfyui_node/backends.py, embedded at build time as kNodeBackendsSource) with
// ComfyUI's arguments, so that what is timed is what the router runs in ComfyUI: the host time
// of the reshapes and of the call through the interpreter is part of what a user pays.
constexpr const char* kAdapterSource = R"PY(
import functools, importlib, sys, types

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

_node = None

def node_backends():
    # Executed on first use, not at start: it imports torch, which the worker's imports overlap.
    global _node
    if _node is None:
        mod = types.ModuleType("comfyui_node_backends")
        exec(compile(NODE_BACKENDS_SOURCE, "comfyui_node/backends.py", "exec"), mod.__dict__)
        _node = mod
    return _node

def make_call(backend, builtin, module, function, kernel_layout, flat, heads):
    """f(q, k, v) -> (B, Lq, H*D): the node's adapter called as ComfyUI's models call attention,
    (B, L, H*D) inputs (`flat`) or (B, H, L, D) with skip_reshape=True."""
    nb = node_backends()
    if builtin:
        adapter = nb.make_adapter(backend, None)
    else:
        adapter = nb.library_adapter(getattr(importlib.import_module(module), function), kernel_layout)
    return functools.partial(adapter, heads=heads, skip_reshape=not flat)

def warm(backend, builtin, module, function, kernel_layout, shapes, dtype, device):
    """One small call of each shape class, on a stream of its own: the libraries' first-call
    costs are paid here, beside the native measurements (Job::overlap_imports), instead of in
    the measuring phase. Seen on the H200 with the real libraries: FlashAttention-3's first call
    in a process took 4.0-4.9 s, SageAttention's first call of a shape class 0.13-1.7 s (its
    Triton quantisation kernels compile). A warm-up that fails is left for the measurement to
    meet and record. Returns the seconds it took."""
    import time, torch
    t0 = time.time()
    dt = getattr(torch, dtype)
    stream = torch.cuda.Stream(device=device)
    for flat, heads, d, lq, lk in shapes:
        def make(n):
            return torch.randn((1, n, heads * d) if flat else (1, heads, n, d), dtype=dt, device=device)
        try:
            with torch.cuda.stream(stream):
                make_call(backend, builtin, module, function, kernel_layout, flat, heads)(make(lq), make(lk), make(lk))
            stream.synchronize()
        except Exception:
            pass
    return time.time() - t0
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
  PyRef source = check(PyUnicode_FromString(kNodeBackendsSource));
  if (PyObject_SetAttrString(adapters_.get(), "NODE_BACKENDS_SOURCE", source.get()) != 0)
    throw PythonError(fetch_error());
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
  const bool builtin = find_builtin(b.id).has_value();
  return check(PyObject_CallMethod(adapters_.get(), "make_call", "sOsssOi", b.id.c_str(),
                                   builtin ? Py_True : Py_False, b.module.c_str(), b.function.c_str(),
                                   b.kernel_layout == KernelLayout::blhd ? "blhd" : "bhld",
                                   w.layout == Layout::blhd_flat ? Py_True : Py_False, w.heads));
}

double PythonEnv::warm(const BackendInfo& b, const std::vector<WarmShape>& shapes, const std::string& dtype,
                       const std::string& device) {
  import_torch();
  PyRef list = check(PyList_New(0));
  for (const auto& w : shapes) {
    PyRef item = check(Py_BuildValue("(Oiiii)", w.flat ? Py_True : Py_False, w.heads, w.head_dim, w.q_len, w.kv_len));
    if (PyList_Append(list.get(), item.get()) != 0) throw PythonError(fetch_error());
  }
  const bool builtin = find_builtin(b.id).has_value();
  PyRef out = check(PyObject_CallMethod(adapters_.get(), "warm", "sOsssOss", b.id.c_str(), builtin ? Py_True : Py_False,
                                        b.module.c_str(), b.function.c_str(),
                                        b.kernel_layout == KernelLayout::blhd ? "blhd" : "bhld", list.get(),
                                        dtype.c_str(), device.c_str()));
  return PyFloat_AsDouble(out.get());
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
