"""Placeholder: being written (issue 4)."""
class Zoo:
    pass
