"""Placeholder: being written (issue 3)."""
def load_records(paths=None):
    raise NotImplementedError
