"""MkDocs hook: a page's link to a module's source file becomes a link to its API entry.

The pages under docs/ are read on GitHub too, where ``[text](../minivae/marginal/importance.py)``
opens the source. On the site that file is not a page; the link is rewritten into the
cross-reference ``[text][minivae.marginal.importance]``, which mkdocstrings resolves to the
module's entry in the API reference (and ``mkdocs build --strict`` fails if it is not there).
"""
import re

SOURCE_LINK = re.compile(r"\]\((?:\.\./)+(minivae/[\w/]+)\.py\)")


def _module(path):
    """``minivae/fullvb/__init__`` -> ``minivae.fullvb``; ``minivae/model`` -> ``minivae.model``."""
    return path.replace("/", ".").removesuffix(".__init__")


def on_page_markdown(markdown, page, config, files):
    return SOURCE_LINK.sub(lambda m: "][" + _module(m.group(1)) + "]", markdown)
