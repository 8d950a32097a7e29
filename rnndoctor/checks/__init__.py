"""The built-in checks: each measures one aspect of the setup with torch and publishes what it measured.

`rnndoctor.core.registry` imports every module here (each registers its checks); the judges that turn the
published measurements into findings live with their rules in `rnndoctor.rules`.
"""
