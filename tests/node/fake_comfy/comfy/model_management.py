"""Stand-in for comfy/model_management.py: what the attention functions use."""
import torch

OOM_EXCEPTION = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)


def get_free_memory(dev=None, torch_free_too=False):
    free = 64 * 1024 ** 3
    if dev is not None and getattr(dev, "type", None) == "cuda":
        free = torch.cuda.mem_get_info(dev)[0]
    return (free, free) if torch_free_too else free


def soft_empty_cache(force=False):
    pass


def is_nvidia():
    return torch.cuda.is_available() and torch.version.cuda is not None
