"""Backups proven by a restore, wherever an environment keeps them.

dumps/        the implementation, one package for the controller and the database host (roles/backups ships it
              there as golive-backup): take, seal, prove, ship, restore, list, verify, the metric, the program
taken.py      a backup as the controller knows it: what a release records, what the checks list
on_host.py    golive-backup on a database host, over its transport: the command lines and their answers
strategy.py   where an environment keeps them (for_environment): on the controller or on its backup_host, one
              interface for the release engine, fab backup/restore and the checks; shipped to the environment's
              backup bucket, sealed, when it has one
"""
