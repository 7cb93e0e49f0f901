"""Choosing the patch providers for a heal, cheapest first."""

from __future__ import annotations

from kernel.config import Settings
from kernel.errors import ConfigError
from patches.errors import ProviderError
from patches.offline import OfflineProvider
from patches.openai_provider import OpenAIProvider
from patches.provider import PatchProvider


def build_providers(settings: Settings) -> list[PatchProvider]:
    """Return the providers in the order they are asked.

    ``auto`` asks the offline engine first, because its fixes cost nothing,
    and then the model when a model name is configured.
    """
    providers: list[PatchProvider] = []
    if settings.provider in ("auto", "offline"):
        providers.append(
            OfflineProvider(
                max_candidates=settings.offline_max_candidates,
                seconds=settings.offline_seconds,
            )
        )
    if settings.provider == "openai" or (settings.provider == "auto" and settings.model):
        try:
            providers.append(
                OpenAIProvider(
                    settings.model,
                    timeout=settings.request_timeout,
                    max_retries=settings.max_retries,
                    choices=settings.candidates,
                    context_tokens=settings.context_tokens,
                    tool_calling=settings.tool_calling,
                )
            )
        except ProviderError as error:
            raise ConfigError(str(error)) from error
    return providers
