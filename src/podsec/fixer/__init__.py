"""``podsec fix``: safe, minimal, format-preserving remediation of manifest files.

`objects` fixes one object with the remedies the checks declare (`podsec.remedies`), `text`
writes the resulting JSON Patch into the file's own text, `files` does one file, `output`
shows diffs, patches and the summary, and writes files atomically; `command` is the CLI.
"""
