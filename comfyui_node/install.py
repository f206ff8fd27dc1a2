"""What ComfyUI-Manager runs after installing a node (`python install.py`, in the node's folder).

This node needs nothing beyond the standard library and torch, which ComfyUI already has, so
there is nothing to install. The file exists so that Manager's step succeeds and says so; it
must stay a plain script (no imports from the package: Manager runs it outside any package).
The router is installed at ComfyUI start by hook.py.
"""
import sys

if __name__ == "__main__":
    print("[attention-autotune] nothing to install: the node needs only torch, which ComfyUI has. "
          "It applies autotune's decision ($COMFYUI_ATTENTION_DECISION, default "
          "/workspace/venv/.attention_decision.json) when ComfyUI starts.")
    sys.exit(0)
