"""mkdocs hooks for the docs site (mkdocs.yml, ``hooks:``).

The package's docstrings cite each other with Sphinx roles (``:class:`LatencyResult```), which
mkdocstrings renders as text; on the site the role's name is noise, so it is dropped and the
code span kept.
"""

from __future__ import annotations

import re
from typing import Any

_SPHINX_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod):(?=<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    """Drop Sphinx role names in front of the code spans they mark."""
    return _SPHINX_ROLE.sub("", html)
