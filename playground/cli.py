"""The `qwen-playground` command: starts the app as `python app.py` does, from wherever it is run.

`pip install .` puts the app in one package, `qwen_playground` (app.py, `playground`, `tabs` and the
assets, as laid out in the repository), so nothing with a generic name lands in site-packages. The
app's modules import each other as `playground`, `tabs` and `app`, as they do in the repository; this
entry point makes that folder importable for the app's own process, then hands over to `app.main`.
"""

from __future__ import annotations

import sys
from pathlib import Path

HOME = Path(__file__).resolve().parent.parent  # the repository, or the installed qwen_playground folder


def main(argv: list[str] | None = None) -> None:
    if str(HOME) not in sys.path:
        sys.path.insert(0, str(HOME))
    from app import main as run_app

    run_app(argv)


if __name__ == "__main__":
    main()
