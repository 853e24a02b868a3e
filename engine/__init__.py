"""OwnVoice's core: everything that is neither a screen nor an SSH hop to the GPU box.

Never imports PySide6, `desktop` or `remote` (tests/test_architecture.py checks).
"""
