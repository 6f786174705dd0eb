"""The repo's top-level datasets/ folder must never shadow Hugging Face `datasets`."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_datasets_is_huggingface_even_from_repo_root():
    code = (
        "import datasets, polyrlaif.datasets as ours;"
        "print(datasets.__file__);"
        "print(hasattr(datasets, 'load_dataset'));"
        "print(list(ours.__path__)[0])"
    )
    # `python -c` puts the current directory first on sys.path: the worst case for shadowing.
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    hf_file, has_load, ours = out.stdout.split("\n")[:3]
    assert "site-packages" in hf_file and not hf_file.startswith(str(REPO / "datasets"))
    assert has_load == "True"
    assert Path(ours).resolve() == (REPO / "datasets").resolve()
    assert not (REPO / "datasets" / "__init__.py").exists()


def test_cli_help_does_not_import_torch():
    code = (
        "import sys; from polyrlaif.core.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert out.stdout.strip().splitlines()[-1] == "False False"
    assert "train" in out.stdout and "verify" in out.stdout
