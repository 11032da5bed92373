"""Engines behind the pipeline's ``Engine`` protocol.

- ``rapidocr``: embedded CPU OCR (ONNX models inside its wheel): the default, needs no GPU.
- ``lmdeploy``: DeepSeek-VL2 on GPU (imports lmdeploy lazily).
"""
