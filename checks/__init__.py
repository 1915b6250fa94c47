"""The deployment checklist as code: every box of shared/deployment-checklist.md is an entry of
checks/catalogue.yml, either an automated check (a @check function in a module of this folder, found by
checks/registry.py) or a person's recorded sign-off. `fab check --env E --phase P` runs a phase; `fab signoff`
records a sign-off (see checks/README.md)."""
