"""Fails at import, with a module that does exist: 'not installed' must carry this reason."""
raise ImportError("standin_import_error: libcudart.so.99: cannot open shared object file")
