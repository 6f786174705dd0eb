"""The run log: every ``polyrlaif`` record once, in the one format, whatever other libraries do."""

from __future__ import annotations

import subprocess
import sys


def test_a_library_logging_at_module_level_does_not_double_our_lines():
    """open_clip calls ``logging.info(...)`` on the root logger when it loads a model, which used to run
    ``basicConfig`` and print each of our lines a second time as ``INFO:polyrlaif...``."""
    code = (
        "import logging\n"
        "from polyrlaif.core.log import get_logger, setup_logging\n"
        "setup_logging()\n"
        "logging.info('a library says hello')\n"  # what open_clip does
        "logging.warning('a library warns')\n"
        "get_logger('polyrlaif.domains.x').info('our line')\n"
        "get_logger('polyrlaif.domains.x').warning('our warning')\n"
    )
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    lines = err.splitlines()
    assert [line for line in lines if "our line" in line] == [
        next(line for line in lines if line.startswith("[polyrlaif ") and line.endswith("x: our line"))
    ]
    assert sum("our warning" in line for line in lines) == 1
    assert "WARNING:root:a library warns" in lines  # other libraries' warnings still show
    assert "a library says hello" not in err
