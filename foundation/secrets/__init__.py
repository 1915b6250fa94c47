"""Where an environment's secrets come from (its description's `secrets:`), and their values by key.

source.py   the declaration: generated | vault | pulumi | aws-secretsmanager | aws-ssm, with its name and region
keys.py     the keys every source holds (the vault file's names), required and optional: the one list
aws.py      the AWS requests (built apart) and the one boto3 call that sends them, errors said for a person
resolve.py  a source's values by key, one secret, and what preflight refuses (missing, empty, a placeholder)
commands.py the `aws` CLI commands an operator runs to create an environment's secrets (infra/README.md)

Values are never printed, logged or put in an error: errors name the key and the source, never a value."""
