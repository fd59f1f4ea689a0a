"""Regular expressions shared by the CEL rules (RE2, in the apiserver) and Python (``re``).

Written in the common subset of both engines, without backslashes (``[.]`` rather than
``\\.``) so they embed in CEL string literals unescaped.
"""

from __future__ import annotations

import re
from typing import Final

AGENT_NAME: Final = "^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"

_LABEL = "[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
# A registry host: dotted name or IPv4 (optionally with port), any name with a port, or
# localhost. Requiring one of these is what makes "full reference" checkable: "nginx:1" or
# "library/nginx:1" would silently mean Docker Hub.
_REGISTRY = f"({_LABEL}([.]{_LABEL})+(:[0-9]+)?|{_LABEL}:[0-9]+|localhost)"
_PATH_COMPONENT = "[a-z0-9]+(([.]|_|__|-+)[a-z0-9]+)*"
_TAG = ":[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}"
_DIGEST = "@sha256:[a-f0-9]{64}"
_REPOSITORY = f"{_PATH_COMPONENT}(/{_PATH_COMPONENT})*"
IMAGE: Final = f"^{_REGISTRY}/{_REPOSITORY}(({_TAG})({_DIGEST})?|{_DIGEST})$"

ENV_NAME: Final = "^[A-Za-z_][A-Za-z0-9_]*$"
CONFIG_KEY: Final = "^[-._a-zA-Z0-9]+$"
DNS_SUBDOMAIN: Final = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SEMVER: Final = (
    "^(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)[.](0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?([+][0-9A-Za-z.-]+)?$"
)
MCP_SERVER_LABEL: Final = "^[a-zA-Z0-9_-]+$"
# Foundry documents no rule for toolbox names; its samples use letters, digits and '_'.
# Agent names' shape plus '_' inside, and no dots (they would end up in the MCP URL path).
TOOLBOX_NAME: Final = "^[a-zA-Z0-9]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$"
# HTTP header names (RFC 9110 tokens), in the subset people use: no quotes, so that the
# pattern embeds in a CEL string literal.
HTTP_HEADER_NAME: Final = "^[A-Za-z0-9][A-Za-z0-9_-]*$"
# Function names as models take them (OpenAI function calling): an OpenAPI tool's name and
# its operationIds become such names.
FUNCTION_NAME: Final = "^[a-zA-Z0-9_-]{1,64}$"


def matcher(pattern: str) -> re.Pattern[str]:
    """Compile a pattern for Python-side checks (fullmatch semantics are in the anchors)."""
    return re.compile(pattern)
