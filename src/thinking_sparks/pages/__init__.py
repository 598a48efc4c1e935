"""One module per notebook: ``Params`` -> ``run(params)`` -> ``Result`` -> ``verdicts(result)``.

The analysis rooms (``organism``, ``emergence``, ``interventions``, ``realmodel``) hold the science;
a page module composes it for one notebook. :data:`PAGES` maps each notebook to its module and
book title.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

# a notebook imports its page module (and through it tqdm.auto, via transformers or datasets) before
# ``params.from_notebook`` quiets the output: without ipywidgets tqdm would warn into the page
warnings.filterwarnings("ignore", message="IProgress not found")

#: notebook stem -> (module of :mod:`thinking_sparks.pages`, book title)
PAGES: dict[str, tuple[str, str]] = {
    "01_models": ("models", "The models under study"),
    "02_organism": ("organism", "A model organism of reasoning post-training"),
    "03_circuits": ("circuits", "One circuit from the ground up"),
    "04_emergence": ("emergence", "Emergent heads along post-training"),
    "05_interventions": ("interventions", "Ablating and scaling heads"),
    "06_thinking_modes": ("thinking_modes", "Thinking on and off"),
    "07_real_model": ("real_model", "A real model: SmolLM2-135M post-trained and traced"),
    "08_generalisation": ("generalisation", "Beyond Qwen: the Llama organism"),
    "09_heads": ("heads", "One head at a time"),
}


def page(stem: str) -> ModuleType:
    """The page module of notebook ``stem`` (e.g. ``"04_emergence"`` -> :mod:`.emergence`)."""
    if stem not in PAGES:
        raise ValueError(f"no page module for notebook {stem!r}; known: {', '.join(PAGES)}")
    return importlib.import_module(f"thinking_sparks.pages.{PAGES[stem][0]}")


def params_class(stem: str) -> type:
    """The ``Params`` dataclass of notebook ``stem``."""
    return page(stem).Params


def title(stem: str) -> str:
    """The book title of notebook ``stem``."""
    if stem not in PAGES:
        raise ValueError(f"no page module for notebook {stem!r}; known: {', '.join(PAGES)}")
    return PAGES[stem][1]
