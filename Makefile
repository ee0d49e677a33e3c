# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KAFKA_MODE ?= zk
export KAFKA_MODE

.PHONY: help venv kafka-up kafka-down kafka-status kafka-cluster-up kafka-cluster-down \
        kafka-cluster-status demo test test-unit test-integration test-secure test-cluster \
        bench-parse bench bench-secure chaos chaos-cluster stress-broker clean

help:
	@echo "make demo              set up, start Kafka, run the pipeline on bundled pages, print alerts"
	@echo "make test              set up, start Kafka, run unit and integration tests"
	@echo "make test-unit         unit tests only (no broker)"
	@echo "make test-secure       the integration suite over SASL_SSL, on the secured broker"
	@echo "make test-cluster      the cluster tests on the 3-node cluster (starts it)"
	@echo "make kafka-up/-down    start/stop a local broker (KAFKA_MODE=zk|kraft; Docker if available)"
	@echo "make kafka-cluster-up  a local 3-node KRaft cluster (RF 3, min ISR 2); -down stops it"
	@echo "make bench-parse       our parser vs recipe-scrapers, ms/page"
	@echo "make bench             pipeline throughput, alert latency, scale-out, memory"
	@echo "make bench-secure      parse stage over PLAINTEXT, SASL_PLAINTEXT and SASL_SSL, alternating"
	@echo "make chaos             kill -9 and broker restarts at scale: duplicates / missing"
	@echo "make chaos-cluster     brokers, coordinators killed and rolled on the 3-node cluster, scale-out"
	@echo "make stress-broker     kafka-down/-up 30 times per mode under CPU load: failed starts"

$(VENV)/.installed: pyproject.toml requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

# KAFKA_SECURITY=sasl_ssl: the secure broker, whose topics and ACLs are set up with the venv's python.
kafka-up: $(if $(KAFKA_SECURITY),venv)
	bash scripts/kafka-local.sh up

kafka-down:
	bash scripts/kafka-local.sh down

kafka-status:
	bash scripts/kafka-local.sh status

CLUSTER_BOOTSTRAP := localhost:9291,localhost:9292,localhost:9293

kafka-cluster-up:
	KAFKA_CLUSTER=1 bash scripts/kafka-local.sh up

kafka-cluster-down:
	KAFKA_CLUSTER=1 bash scripts/kafka-local.sh down

kafka-cluster-status:
	KAFKA_CLUSTER=1 bash scripts/kafka-local.sh status

demo: venv kafka-up
	$(PY) scripts/demo.py

test: venv kafka-up
	$(PY) -m pytest tests

test-unit: venv
	$(PY) -m pytest tests/unit

test-integration: venv kafka-up
	$(PY) -m pytest tests/integration

# The integration suite on the secured broker: every client as its admin over SASL_SSL
# (tests that freeze or restart the plaintext broker are left out), and the per-user cases.
test-secure: venv
	KAFKA_SECURITY=sasl_ssl bash scripts/kafka-local.sh up
	env -u KAFKA_BOOTSTRAP_SERVERS KAFKA_SECURITY=sasl_ssl \
	  KAFKA_COMMAND_CONFIG="$$($(PY) -m testkit.secure paths | sed -n 's/^admin\.java=//p')" \
	  $(PY) -m pytest tests/integration

test-cluster: venv kafka-cluster-up
	KAFKA_CLUSTER=1 KAFKA_BOOTSTRAP_SERVERS=$(CLUSTER_BOOTSTRAP) $(PY) -m pytest tests/integration/test_cluster.py tests/integration/test_cluster_topics.py

.venv-bench/.installed: requirements.txt bench/requirements-bench.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet -r requirements.txt -r bench/requirements-bench.txt
	touch $@

bench-parse: .venv-bench/.installed
	.venv-bench/bin/python -m bench.bench_parse

bench: venv .venv-bench/.installed kafka-up
	$(PY) -m bench.bench_pipeline

bench-secure: venv kafka-up
	KAFKA_SECURITY=sasl_ssl bash scripts/kafka-local.sh up
	$(PY) -m bench.bench_secure

chaos: venv kafka-up
	$(PY) -m bench.chaos

chaos-cluster: venv kafka-cluster-up
	KAFKA_CLUSTER=1 KAFKA_BOOTSTRAP_SERVERS=$(CLUSTER_BOOTSTRAP) $(PY) -m bench.chaos_cluster $(ARGS)

stress-broker:
	bash scripts/stress-broker-start.sh

clean:
	rm -rf $(VENV) .venv-bench .pytest_cache .hypothesis
