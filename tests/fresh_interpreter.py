"""What loading an encoder imports, seen from a fresh interpreter (the test process has imported everything)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def modules_imported(load_encoder_code: str, packages: tuple[str, ...]) -> list[str]:
    """Run code that binds `encoder`, embed one query with it, and list the modules of these packages
    that were imported on the way."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        f"{load_encoder_code}\n"
        "assert encoder.embed_query('乡村振兴').shape == (384,)\n"
        f"print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
