"""Models of ``preparation.yaml``: the general preparation advice a patient reads beside their next
appointment and in their reminders, in English and Spanish, each text with its source (``source_es`` for the
Spanish). Loaded once; a text without its Spanish fails validation (the catalog check)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml
from pydantic import Field

from igflow.catalog.models import _Strict


class Advice(_Strict):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    text_es: str = Field(min_length=1)
    source: str = Field(min_length=1)
    source_es: str = Field(min_length=1)

    def text_in(self, locale: str, hours: str = "") -> str:
        """The advice in ``locale`` (Spanish, else English), ``{hours}`` filled in."""
        return (self.text_es if locale == "es" else self.text).replace("{hours}", hours)


class PreparationCatalog(_Strict):
    verified: bool
    translation_source: str = Field(min_length=1)
    service_pages: str = Field(min_length=1)
    items: list[Advice] = Field(min_length=1)

    def texts(self, locale: str, hours: str) -> list[str]:
        return [item.text_in(locale, hours) for item in self.items]


@lru_cache(maxsize=1)
def preparation_catalog() -> PreparationCatalog:
    text = resources.files("igflow.catalog").joinpath("data/preparation.yaml").read_text(encoding="utf-8")
    return PreparationCatalog.model_validate(yaml.safe_load(text))
