"""Writes a stand-in for a Python package that a machine lacks and that nothing measured uses
(../shared/comfyui/README.md: av and torchsde on the GPU machine; ComfyUI imports them at start).

  python3 fake_module.py DIR NAME...

Each NAME becomes DIR/NAME/__init__.py: any attribute is a stand-in class (any attribute of it
another, a call returning it), and any submodule (`from av.container import InputContainer`)
another such module.
"""
import os
import sys

SOURCE = '''"""Stand-in written by scripts/bench/fake_module.py: every attribute a stand-in class."""
import importlib.abc
import importlib.machinery
import sys
import types


class _Anything(type):
    """A class whose every attribute is another such class and whose call returns itself:
    `av.logging.set_level(av.logging.ERROR)` (torchvision) and `class X(av.Frame)` both work."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything(name, (), {})

    def __call__(cls, *args, **kwargs):
        return cls


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Anything(name, (), {})


class _Module(types.ModuleType):
    __path__ = []

    def __getattr__(self, name):
        return __getattr__(name)


class _Submodules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.startswith(__name__ + "."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Module(spec.name)

    def exec_module(self, module):
        pass


sys.meta_path.append(_Submodules())
'''

if len(sys.argv) < 3:
    sys.exit("usage: fake_module.py DIR NAME...")
for name in sys.argv[2:]:
    os.makedirs(os.path.join(sys.argv[1], name), exist_ok=True)
    with open(os.path.join(sys.argv[1], name, "__init__.py"), "w") as f:
        f.write(SOURCE)
