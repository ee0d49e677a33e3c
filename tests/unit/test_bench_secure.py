"""make bench-secure's connections and its table; no broker."""

from pathlib import Path

from bench import bench_secure
from testkit import secure


def test_bench_secure_takes_tls_out_of_the_admin_file_for_sasl_plaintext(tmp_path, monkeypatch):
    admin = tmp_path / "admin.properties"
    admin.write_text("bootstrap.servers=localhost:9192\nsecurity.protocol=SASL_SSL\n"
                     "sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=x required;\n"
                     "ssl.truststore.location=/ca.pem\nssl.truststore.type=PEM\n")
    monkeypatch.setattr(secure, "client_config_path", lambda user, dialect="java": admin)
    runs = bench_secure.connections(tmp_path)
    plain_sasl = Path(runs["SASL_PLAINTEXT"]["KAFKA_COMMAND_CONFIG"])
    assert plain_sasl.read_text() == ("bootstrap.servers=localhost:9195\nsecurity.protocol=SASL_PLAINTEXT\n"
                                      "sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=x required;\n")
    assert plain_sasl.stat().st_mode & 0o777 == 0o600
    assert runs["SASL_SSL"]["KAFKA_COMMAND_CONFIG"] == str(admin)
    assert runs["PLAINTEXT"]["KAFKA_COMMAND_CONFIG"] is None


def test_bench_secure_compares_each_round_with_its_own_plaintext_run():
    keys = [key for key, _ in bench_secure.FIGURES]
    figures = lambda x: {"pages": 10, "mean_kb": 400, **{key: x for key in keys}}  # noqa: E731
    text = bench_secure.render({"PLAINTEXT": [figures(100), figures(50)],
                                "SASL_SSL": [figures(80), figures(50)]}, rounds=2)
    round_1, round_2, mean = text.split("\n\n")[1:]
    assert "(0.80x)" in round_1 and "(1.00x)" in round_2
    assert f"{(0.8 ** 0.5):.2f}x" in mean
