"""comfyui-attention-autotune: ComfyUI's entry point when this whole repository is the custom
node. ComfyUI-Manager installs from a git URL by cloning the repository into custom_nodes/, and
the Comfy Registry installs the packed repository (pyproject.toml). The node itself is
comfyui_node/ (its README says what it does); copying or linking only that folder into
custom_nodes/ works as well."""
from .comfyui_node import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: F401

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
