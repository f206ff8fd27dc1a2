"""comfyui-attention-autotune: applies autotune's per-shape attention decision inside ComfyUI.

No nodes: it acts when ComfyUI imports it (see hook.py for how, README.md for what).
"""
import sys

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]

ROUTER = None
# Only inside a ComfyUI process (which has imported comfy before it loads custom nodes); a plain
# `import comfyui_node.routing` from a test or a script installs nothing.
if "comfy" in sys.modules:
    try:
        from .hook import install as _install
        ROUTER = _install()
    except Exception:  # never let this node stop ComfyUI from starting
        import logging
        logging.getLogger("comfyui_attention_autotune").exception(
            "[attention-autotune] failed to install; ComfyUI's attention is unchanged")
