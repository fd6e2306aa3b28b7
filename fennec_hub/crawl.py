"""Placeholder: being written (issue 5)."""
def crawl(*args, **kwargs):
    raise NotImplementedError
