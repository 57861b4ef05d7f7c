"""Sphinx configuration of ferrovq's documentation (``make docs``)."""

import subprocess
import sys
from pathlib import Path

import ferrovq

HERE = Path(__file__).resolve().parent

project = "ferrovq"
author = "the ferrovq developers"
copyright = "2026, the ferrovq developers"
release = version = ferrovq.__version__

extensions = ["sphinx.ext.autodoc", "numpydoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = f"ferrovq {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
numpydoc_show_class_members = False
myst_heading_anchors = 3
# The pages include README sections, whose headings start below the page's title and
# whose links point at anchors of other sections.
suppress_warnings = ["myst.header", "myst.xref_missing"]

# Generated inputs: the command line's help texts and the performance plots.
generated = HERE / "_generated"
generated.mkdir(exist_ok=True)
for command in ("", "demo", "cluster", "vq"):
    args = [sys.executable, "-m", "ferrovq", *([command] if command else []), "--help"]
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    (generated / f"cli-{command or 'main'}.txt").write_text(text)
sys.path.insert(0, str(HERE))
import plots  # noqa: E402

(HERE / "_static").mkdir(exist_ok=True)
plots.main(HERE / "_static")
