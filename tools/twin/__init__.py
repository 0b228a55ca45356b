"""PyTorch twins of the C models (EfficientNet-B0..B7 as lukemelas'
EfficientNet-PyTorch, torchvision ResNeXt, timm ResNeSt), written from torch
primitives with the PyTorch state-dict names. Use with /usr/bin/python3 and
`tools/` on sys.path:

    from twin import registry
    model = registry.init("efficientnet-b0", 88, seed=1)
"""
from .registry import (NAMES, CosineHead, build, capture, check_state_dict, dump_names,
                       from_arrays, init, load_into, load_safetensors, logits, param_count,
                       save_safetensors, to_arrays)

__all__ = ["NAMES", "CosineHead", "build", "capture", "check_state_dict", "dump_names",
           "from_arrays", "init", "load_into", "load_safetensors", "logits", "param_count",
           "save_safetensors", "to_arrays"]
