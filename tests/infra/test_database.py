"""infra/database.py under mocks: private, encrypted, TLS only, slow statements logged, protected as asked."""

from __future__ import annotations

import pulumi
import pytest

from infra.database import PORT, Database, DatabaseArgs
from infra.offline.recorder import is_secret
from tests.infra.helpers import TAGS

RDS = "aws:rds/instance:Instance"


def database(deletion_protection: bool = False, multi_az: bool = False, version: str = "15") -> Database:
    return Database(
        "db",
        DatabaseArgs(
            subnet_ids=["subnet-a", "subnet-b"],
            security_group_id="sg-db",
            instance_class="db.t4g.small",
            engine_version=version,
            storage_gb=20,
            max_storage_gb=100,
            multi_az=multi_az,
            deletion_protection=deletion_protection,
            final_snapshot="golive-staging-final",
            backup_retention_days=7,
            slow_statement_ms=250,
            db_name="golive",
            username="golive",
            password=pulumi.Output.secret("not-a-real-password"),
            tags=TAGS,
        ),
    )


def test_postgres_in_the_private_subnets_encrypted_and_never_public(run):
    graph = run(database)
    db = graph.one(RDS).inputs
    assert (db["engine"], db["engineVersion"], db["port"]) == ("postgres", "15", PORT)
    assert db["storageEncrypted"] is True and db["publiclyAccessible"] is False
    assert db["vpcSecurityGroupIds"] == ["sg-db"] and db["storageType"] == "gp3"
    subnets = graph.one("aws:rds/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == ["subnet-a", "subnet-b"]
    assert db["dbSubnetGroupName"] == subnets.outputs["name"]
    assert db["backupRetentionPeriod"] == 7 and db["allowMajorVersionUpgrade"] is False


def test_the_password_reaches_rds_as_a_secret(run):
    db = run(database).one(RDS)
    assert is_secret(db.inputs["password"]) and db.plain_inputs["password"] == "not-a-real-password"


@pytest.mark.parametrize("version", ["15", "16.4"])
def test_the_parameter_group_matches_the_major_and_logs_slow_statements_and_forces_tls(run, version):
    graph = run(lambda: database(version=version))
    group = graph.one("aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == f"postgres{version.split('.')[0]}"
    params = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert params == {"log_min_duration_statement": "250", "log_lock_waits": "1", "rds.force_ssl": "1"}
    assert graph.one(RDS).inputs["parameterGroupName"] == group.outputs["name"]
    assert graph.one(RDS).inputs["enabledCloudwatchLogsExports"] == ["postgresql"]


def test_deletion_protection_comes_with_a_final_snapshot(run):
    protected = run(lambda: database(deletion_protection=True, multi_az=True)).one(RDS).inputs
    assert protected["deletionProtection"] is True and protected["multiAz"] is True
    assert protected["skipFinalSnapshot"] is False and protected["finalSnapshotIdentifier"] == "golive-staging-final"
    unprotected = run(database).one(RDS).inputs
    assert unprotected["deletionProtection"] is False and unprotected["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in unprotected


def test_the_endpoint_outputs_come_from_the_instance(run):
    def build():
        db = database()
        return pulumi.Output.all(db.address, db.port).apply(check_endpoint)

    run(build)


def check_endpoint(values):
    address, port = values
    assert address.endswith(".eu-west-1.rds.amazonaws.com") and port == PORT
