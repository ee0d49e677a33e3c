"""Topics the scripts create on the suite's broker: a replication factor it cannot hold is
refused before anything is created. Replication factor 3 on a cluster: test_cluster_topics.py."""

import pytest

from recipe_alert.topics import MIN_INSYNC_REPLICAS
from testkit.broker import BOOTSTRAP, CONNECTION, create_topic, run_script, topic_config, topic_exists

PAGES = "tests/fixtures/pages"


def broker_ids() -> list[int]:
    with CONNECTION.admin() as admin:
        return sorted(b["broker_id"] for b in admin.describe_cluster()["brokers"])


@pytest.mark.parametrize("script", ["producer_raw_recipes.py", "consumer_notification.py"])
def test_a_replication_factor_above_the_broker_count_exits_2_and_creates_nothing(names, script):
    ids = broker_ids()
    factor = max(3, len(ids) + 1)  # 3 on the single broker, and too many on any cluster
    args = (["--from-dir", PAGES, "--topic", names.raw] if script.startswith("producer") else
            ["--topic", names.parsed, "--alerts-topic", names.alerts, "--timeout-ms", "1000"])
    result = run_script(script, *args, "--replication-factor", str(factor))
    assert result.returncode == 2, result.stderr[-3000:]
    noun = "id" if len(ids) == 1 else "ids"
    assert (f"--replication-factor {factor} needs at least {factor} brokers; the cluster at "
            f"{BOOTSTRAP} has {len(ids)} ({noun} {', '.join(map(str, ids))})") in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(topic_exists(t) for t in (names.raw, names.parsed, names.alerts))


def test_at_replication_factor_1_min_isr_is_left_to_the_broker(names):
    create_topic(names.raw, 1)
    assert topic_config(names.raw, MIN_INSYNC_REPLICAS)["config_source"] != "DYNAMIC_TOPIC_CONFIG"
