"""Image decoding and preparation with Pillow; all of it runs off the event loop."""
