"""The Pulumi stack's outputs as the controller keeps them (state/<env>/stack-outputs.json): their versioned shape
(schema.py), fetched through Pulumi's Automation API (pulumi_stack.py), and the Ansible inventory made from them
(inventory.py). infra/outputs.py produces the shape; `fab infra.outputs` writes the files."""
