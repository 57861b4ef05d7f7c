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

extensions = ["sphinx.ext.autodoc", "numpydoc", "myst_parser", "sphinx_gallery.gen_gallery"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated"]
# The example gallery: each script in examples/ runs at build time and its figures are kept.
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "show_memory": False,
    "write_computation_times": False,
    "abort_on_example_error": True,
}
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = f"ferrovq {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
numpydoc_show_class_members = False
myst_heading_anchors = 3

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
