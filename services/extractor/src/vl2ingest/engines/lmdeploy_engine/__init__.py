"""DeepSeek-VL2 on LMDeploy (GPU). The only package that imports lmdeploy, and only lazily:
``engine`` imports it in ``start()``; ``vl2_support`` (our vision wrapper and config class) is
imported from there, in every process that builds an engine."""

from vl2ingest.engines.lmdeploy_engine.engine import BackendChoice, LmdeployEngine

__all__ = ["BackendChoice", "LmdeployEngine"]
