"""One exception tree for the whole package, and the exit code of each error.

Library code raises these; only ``cli.run_stage``, at the scripts' boundary,
turns them into a message and an exit code. The scripts' ``--help`` and the
README list the same codes.
"""

from kafka.errors import KafkaError


class RecipeAlertError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 1
    stats = None  # what the stage had done when it failed, for its summary line


class ConfigError(RecipeAlertError):
    """A flag or environment variable has an unusable value."""

    exit_code = 2


class InvalidTopicName(ConfigError):
    """A topic name Kafka would refuse."""


class BrokerUnavailable(RecipeAlertError):
    """No broker answered at the bootstrap address."""

    exit_code = 2


class AuthenticationFailed(RecipeAlertError):
    """The cluster answered but refused who we are, or we refused its certificate."""

    exit_code = 5


class NotAuthorized(RecipeAlertError):
    """The cluster's ACLs deny an operation this script needs."""

    exit_code = 6


class BrokerError(RecipeAlertError):
    """Kafka refused or failed a request."""


class Fenced(RecipeAlertError):
    """Another instance took over this instance's transactional id."""

    exit_code = 3


class TransactionHung(RecipeAlertError):
    """A transaction did not end in time; a restart resumes from the last commit."""

    exit_code = 1


class NothingFetched(RecipeAlertError):
    """The producer fetched no page: blocked, unreachable, or no recipe links."""

    exit_code = 4

    def __init__(self, message: str, stats) -> None:
        super().__init__(message)
        self.stats = stats


class NotARecipe(RecipeAlertError):
    """The page holds no recipe the parser can read."""


class ParserCrashed(RecipeAlertError):
    """The worker process died while parsing a page."""


class RecordRejected(RecipeAlertError, KafkaError):
    """Kafka refused one of a transaction's records; the transaction was aborted.

    A KafkaError too, so that a batch it fails is retried like any other.
    """
