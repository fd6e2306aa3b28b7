"""Write torchvision's published ImageNet-1k accuracies to ``fennec_hub/data/records/``.

torchvision ships each classification checkpoint with the accuracy its authors measured
(``<Weights>.meta["_metrics"]["ImageNet-1K"]``). The ``IMAGENET1K_V1`` figures are those of the
classic weights that benchmark banks call ``torchvision/<arch>`` (PARC fine-tuned them), including
networks timm does not evaluate (GoogLeNet, AlexNet, MNASNet, ShuffleNet, SqueezeNet). Needs
torchvision installed; reads metadata only, downloads no weights.

    python scripts/torchvision_imagenet_results.py [--out fennec_hub/data/records/torchvision_imagenet_results.csv]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "fennec_hub" / "data" / "records" / "torchvision_imagenet_results.csv"


def rows() -> list[dict[str, object]]:
    """One row per (network, metric) of every torchvision classifier's ``IMAGENET1K_V1`` weights."""
    import torchvision
    from torchvision import models

    out = []
    for name in sorted(models.list_models(module=models)):
        weights = getattr(models.get_model_weights(name), "IMAGENET1K_V1", None)
        metrics = weights.meta.get("_metrics", {}).get("ImageNet-1K") if weights is not None else None
        if not metrics:
            continue
        where = (f"pytorch/vision=={torchvision.__version__.split('+')[0]}:torchvision.models."
                 f"{type(weights).__name__}.IMAGENET1K_V1.meta['_metrics']['ImageNet-1K']")
        for metric, key in (("top1", "acc@1"), ("top5", "acc@5")):
            out.append(dict(model=name, dataset="imagenet", metric=metric, value=metrics[key], source=where))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="CSV to write (default: %(default)s)")
    args = parser.parse_args(argv)
    table = rows()
    with args.out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["model", "dataset", "metric", "value", "source"])
        writer.writeheader()
        writer.writerows(table)
    print(f"{len(table)} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
