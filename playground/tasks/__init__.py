"""Pure task logic, one small module per task: no Gradio, no model, no torch where avoidable.

`thinking`: splitting Qwen3's thinking from its answer, and the thinking budget.
"""
