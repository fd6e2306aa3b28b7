"""Placeholder: being written (issue 4)."""
def recommend(dataset, top_k=10, **kwargs):
    raise NotImplementedError
