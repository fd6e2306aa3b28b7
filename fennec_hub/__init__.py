"""fennec_hub: which pre-trained vision checkpoint on the Hugging Face Hub should you fine-tune?

Models and datasets are points in a learned *transfer space* (after Bai et al., "Pre-Trained Model
Recommendation for Downstream Fine-tuning", arXiv 2403.06382); ranking a whole zoo for a dataset is
one matrix-vector product.

    >>> import fennec_hub
    >>> fennec_hub.recommend("cifar100", top_k=5)          # doctest: +SKIP

Importing this package is light: torch, transformers, timm, gradio, datasets and pandas are imported
only inside the functions that need them (``TransferSpace`` loads on first use).
"""

from __future__ import annotations

__version__ = "0.1.0"

# Public API. Each submodule keeps its heavy imports inside functions, so these imports stay cheap.
# No public function shares its name with a module: `import fennec_hub.X` always gives a module
# (archi2vec() lives in `architecture`, crawl() in `crawler`, recommend() in `ranking`).
from .architecture import ArchitectureError, archi2vec
from .crawler import crawl
from .datasets import UnknownDatasetError, resolve_dataset
from .ranking import FilterWarning, RecommendArgumentError, RecommendTypeError, recommend
from .records import load_records
from .zoo import Zoo

__all__ = [
    "ArchitectureError",
    "FilterWarning",
    "RecommendArgumentError",
    "RecommendTypeError",
    "TransferSpace",
    "UnknownDatasetError",
    "Zoo",
    "__version__",
    "archi2vec",
    "crawl",
    "load_records",
    "recommend",
    "resolve_dataset",
]


def __getattr__(name: str):
    # fennec_hub.space needs pandas at import time; load it when TransferSpace is first asked for.
    if name == "TransferSpace":
        from .space import TransferSpace

        return TransferSpace
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"TransferSpace"})
