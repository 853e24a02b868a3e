"""Render the README's screenshots from real data: a real import, a real translation with
the built-in model, a real correction.

    .venv/bin/python tools/screenshots.py        # writes docs/*.png

Needs a CJK font for the Chinese text (Debian: fonts-wqy-microhei or fonts-noto-cjk).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARAGRAPH = "The weather is nice today, so we walked to the harbour."


def ownvoice(*args: str, env: dict, input: str | None = None) -> str:
    result = subprocess.run([str(Path(sys.executable).parent / "ownvoice"), *args], env=env,
                            input=input, capture_output=True, text=True, check=True)
    return result.stdout


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.blog import write_blog

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OWNVOICE_HOME": str(Path(tmp) / "home"),
               "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(Path(tmp) / "config")}
        blog = write_blog(Path(tmp) / "my-blog")
        ownvoice("import", str(blog), env=env)
        ownvoice("translate", "--text", "Where is the train station?", "--to", "zh", env=env)
        output = ownvoice("translate", "--text", PARAGRAPH, "--to", "zh", env=env).strip()
        print("model output:", output)
        ownvoice("correct", "2", "--text", "今天天气不错，我们就走到了港口。", env=env)
        for page in ("translate", "corpus", "models"):
            target = ROOT / "docs" / f"{page}.png"
            ownvoice("gui", "--page", page, "--screenshot", str(target), env=env)
            print("wrote", target.relative_to(ROOT))


if __name__ == "__main__":
    main()
