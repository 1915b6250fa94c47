"""infra/backups.py under mocks: versioned, encrypted, private, TLS only, expiring."""

from __future__ import annotations

import json

from infra.backups import BackupBucket, BackupBucketArgs
from tests.infra.helpers import TAGS


def backups() -> BackupBucket:
    return BackupBucket("golive-staging-backups", BackupBucketArgs(expiry_days=35, noncurrent_days=7, tags=TAGS))


def test_every_setting_names_the_bucket(run):
    graph = run(backups)
    bucket = graph.one("aws:s3/bucket:Bucket")
    assert bucket.outputs["bucket"].startswith("golive-staging-backups-bucket-")
    settings = [r for r in graph.custom_resources if r.type != "aws:s3/bucket:Bucket"]
    assert len(settings) == 6
    for setting in settings:
        assert setting.inputs["bucket"] == bucket.id
        assert setting.property_dependencies["bucket"] == [bucket.urn]


def test_versioned_encrypted_and_owned_by_the_account(run):
    graph = run(backups)
    versioning = graph.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    (rule,) = graph.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    ownership = graph.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_all_public_access_is_blocked_and_plain_http_denied(run):
    graph = run(backups)
    block = graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block[flag] is True for flag in flags)
    policy = graph.one("aws:s3/bucketPolicy:BucketPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    arn = graph.one("aws:s3/bucket:Bucket").outputs["arn"]
    assert statement["Resource"] == [arn, f"{arn}/*"]
    assert graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").urn in policy.dependencies


def test_backups_expire_and_old_versions_do_not_linger(run):
    (rule,) = run(backups).one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert rule["status"] == "Enabled" and rule["expiration"] == {"days": 35}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 7}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
