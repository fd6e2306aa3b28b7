"""Build the zoo embedded in fennec_hub (fennec_hub/data/zoo/) from the repo's own data.

    python scripts/build_default_zoo.py [--out DIR] [--limit N]

First refreshes the feature store of the recorded models and the registry's task texts
(`fennec_hub/data/model_features/`, `python -m fennec_hub.features --rebuild`), then builds the zoo as
`fennec-hub build-zoo` does. Inputs, all offline: the bundled fine-tuning records
(`fennec_hub/data/records/`), timm's pretrained catalogue (`timm.list_pretrained()` and each tag's
pretrained cfg: Hub id, input size, license) and the shipped transformers configs
(`fennec_hub/data/hf_configs/`). Deterministic: the same inputs and library versions give
byte-identical files. Takes several CPU minutes (one archi2vec encoding per distinct architecture;
archi2vec's disk cache makes re-runs fast).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fennec_hub import features  # noqa: E402
from fennec_hub.build import build_default_zoo  # noqa: E402
from fennec_hub.zoo import DEFAULT_ZOO_DIR  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_ZOO_DIR, help=f"output directory (default {DEFAULT_ZOO_DIR})")
    p.add_argument("--limit", type=int, default=None, help="keep only the first N timm checkpoints (quick check)")
    p.add_argument("--crawl", type=Path, default=None,
                   help="a `fennec-hub crawl` directory: its encoded models and model-card records join the build")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    features.rebuild()
    zoo = build_default_zoo(args.out, limit=args.limit, progress=not args.quiet, crawl=args.crawl,
                            log=(lambda *a, **k: None) if args.quiet else print)
    print(zoo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
