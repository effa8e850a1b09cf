"""Evaluation: the hand-written QA set, the harness that runs it through rag, and its reports."""
