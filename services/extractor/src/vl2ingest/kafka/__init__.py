"""Kafka adapters: the only package that imports aiokafka."""
