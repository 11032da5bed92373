"""Pure domain logic of the pipeline. Imports no adapter: it talks to ports (``ports.py``)."""
