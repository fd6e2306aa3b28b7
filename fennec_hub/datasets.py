"""Placeholder: being written (issue 3)."""
class UnknownDatasetError(KeyError):
    pass
def resolve_dataset(name):
    raise NotImplementedError
