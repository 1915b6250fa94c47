"""The Pulumi program for staging and production on AWS (see infra/README.md).

`__main__.py` is the entry point the Pulumi CLI runs; the components live one per module beside it,
the policy pack in `policies/`, and the offline proof (Pulumi's mocks, no CLI) in `offline/`.
"""
