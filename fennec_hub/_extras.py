"""Optional dependencies: the extras of ``pip install 'fennec_hub[...]'`` and the error naming them.

The core (``recommend()`` on the embedded zoo or a Hub zoo) needs only numpy, pandas, pyarrow,
safetensors, huggingface_hub and datasets. Everything else is imported inside the function that
needs it, under :func:`needs`, so that a missing package says which extra installs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# extra -> what it enables (keep in step with [project.optional-dependencies] in pyproject.toml)
EXTRAS: dict[str, str] = {
    "encode": "archi2vec, crawl and build-zoo (torch, transformers, timm, pytorchcv)",
    "fit": "TransferSpace.fit and fennec-hub bench (scipy, scikit-learn)",
    "text": "the MiniLM text proxy for Hub datasets outside the registry (sentence-transformers)",
    "images": "the image proxy, recommend(images=N) (torch, transformers, Pillow)",
    "space": "the Gradio Space in spaces_app/ (gradio and its Hub search box)",
}


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra that installs it."""


@contextmanager
def needs(extra: str, feature: str) -> Iterator[None]:
    """Re-raise a ``ModuleNotFoundError`` from the imports in this block as a
    :class:`MissingExtraError` that says what to install, e.g.
    ``archi2vec needs torch: pip install 'fennec_hub[encode]'``.

    Other import errors (a broken install, a name missing from a module) pass through unchanged.
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r} (known: {', '.join(EXTRAS)})")
    try:
        yield
    except MissingExtraError:
        raise
    except ModuleNotFoundError as exc:
        missing = (exc.name or "an optional package").split(".")[0]
        raise MissingExtraError(f"{feature} needs {missing}: pip install 'fennec_hub[{extra}]'",
                                name=exc.name) from exc
