"""Placeholder: being written (issue 2)."""
class ArchitectureError(ValueError):
    pass
def archi2vec(model_or_config, **kwargs):
    raise NotImplementedError
