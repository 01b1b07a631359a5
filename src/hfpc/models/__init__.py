"""Model-based parts (need the ``models`` extra: torch, transformers, safetensors).

``loading`` is the only module that resolves model names to weights.
"""
