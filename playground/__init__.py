"""Qwen Playground: everything that is not UI."""
