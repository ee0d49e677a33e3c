"""One exception tree for the whole package.

Library code raises these; only the scripts' ``main()`` turns them into a
message and an exit code.
"""


class RecipeAlertError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(RecipeAlertError):
    """A flag or environment variable has an unusable value."""

    exit_code = 2


class InvalidTopicName(ConfigError):
    """A topic name Kafka would refuse."""


class BrokerUnavailable(RecipeAlertError):
    """No broker answered at the bootstrap address."""

    exit_code = 2


class NotARecipe(RecipeAlertError):
    """The page holds no recipe the parser can read."""


class FetchError(RecipeAlertError):
    """A page could not be fetched."""


class CrawlBlocked(FetchError):
    """The site refuses automated access (HTTP 402/403)."""
