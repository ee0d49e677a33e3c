"""The notify stage: parsed recipes in; an alert out for each one over the threshold.

Its parts:

- ``alerts``: which recipes alert, and what an alert says;
- ``sinks``: where alerts go (stdout as text or JSON, a webhook): a new
  ``--format`` is one class there and its entry in ``FORMATS``;
- ``alert_log``: the recipes already alerted, kept in a compacted topic that
  every notifier of the group reads and writes: it is a sink too;
- ``stage``: the run loop, and the one path every record takes.
"""

from .stage import WEBHOOK_ENV, NotifySettings, NotifyStats, run

__all__ = ["WEBHOOK_ENV", "NotifySettings", "NotifyStats", "run"]
