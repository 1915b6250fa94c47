"""The policy pack (`pulumi preview --policy-pack infra/policies`). Each module holds policies for one
kind of resource; `pack.py` lists them; `__main__.py` is the only place a PolicyPack is constructed
(constructing one starts the analyzer's server and never returns)."""
