"""Logging and tracing set-up, done once by the CLI."""
