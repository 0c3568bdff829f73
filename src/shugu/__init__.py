"""shugu (数谷): a trusted data exchange."""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from shugu.client import Client


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import shugu` stays cheap for the CLI and the server.
    if name == "Client":
        from shugu.client import Client

        return Client
    raise AttributeError(name)


__all__ = ["Client", "__version__"]
