"""The GPU box: everything that crosses SSH.

session.py (one SSH session, pinned host keys, shlex-built commands), hosts.py (your
boxes), transfer.py (resumable, sha256-checked SFTP; openssh.py drives OpenSSH's own sftp
where installed, digest.py hashes on both ends), bundle.py (this version's source,
sent once), jobs.py (a job on a box: start detached, follow, cancel, fetch), runner.py
(runs ON the box: environment, training, export, status.json), cloud.py (Lambda Cloud's
API), rented.py (rent a box for one job, pin its host key, terminate it), and targets.py
(the own-box and rented-box training targets, and `target_for(spec)`).

Imports `engine`, never `desktop` or PySide6.
"""
