"""Stand-in for comfy/model_patcher.py: ModelPatcher's model_options life cycle only."""
import copy


class ModelPatcher:
    def __init__(self, model, load_device, offload_device, size=0, weight_inplace_update=False):
        self.model = model
        self.load_device = load_device
        self.offload_device = offload_device
        self.size = size
        self.model_options = {"transformer_options": {}}

    def clone(self):
        n = ModelPatcher(self.model, self.load_device, self.offload_device, self.size)
        n.model_options = copy.deepcopy(self.model_options)
        return n
