"""vl2ingest: turn a stream of image references into structured extraction events."""

__version__ = "0.1.0"
