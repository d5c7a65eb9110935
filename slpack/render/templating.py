"""The jinja2 environment over the shipped ``templates/`` folder.

Templates hold each target's layout and prose; values that need quoting go through filters
(``yaml``, ``cfn_resources``, ``hcl``, ``hcl_attributes``) so no template ever builds YAML or HCL
syntax by hand.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from slpack.render import hcl
from slpack.render.cloudformation import resources_yaml, yaml_block
from slpack.resources import data_dir


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,  # a missing value is a bug, never an empty string
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(
        yaml=yaml_block, cfn_resources=resources_yaml, hcl=hcl.value, hcl_attributes=hcl.attributes
    )
    return env


def write(template: str, dest: Path, **context: Any) -> Path:
    """Render ``template`` (a path under templates/) into ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(environment().get_template(template).render(**context), encoding="utf-8")
    return dest
