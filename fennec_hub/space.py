"""Placeholder: being written (issue 3)."""
class TransferSpace:
    pass
