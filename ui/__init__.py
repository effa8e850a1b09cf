"""The people-facing layer: the `citeqa` command and the Gradio chat page."""
