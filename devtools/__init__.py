"""Tools for tests, benchmarks and demos, never used by the running app.

`devtools.tiny` builds tiny random-weight Qwen checkpoints offline; `devtools.launch` starts the
real app in a child process and waits until it answers.
"""
