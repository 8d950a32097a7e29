"""The rules: one module per RD code, in one sub-package per family.

A rule module defines ``RULE`` (the code's documentation, message and fix templates, variants, options and
the torch errors it explains), the judges that turn a published measurement into its findings
(`rnndoctor.core.judging.judges`) and, when the fix can be applied mechanically, its remedy
(`rnndoctor.core.remedies.remedy`). `rnndoctor.core.catalogue` finds them by scanning this package.
"""
