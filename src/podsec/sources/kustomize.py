"""``podsec scan -k DIR``: render a Kustomize directory with ``kubectl kustomize``.

The rendered stream is scanned as one input named ``DIR (kustomize)``; its lines are
those of the rendered output. When the kustomization asks for origin annotations
(``buildMetadata: [originAnnotations]``), each finding also names the file the object
came from (``template`` in JSON).
"""

from __future__ import annotations

import os
import shutil
import subprocess

from podsec.findings import InputError
from podsec.sources.files import MAX_FILE_BYTES, Target

TIMEOUT_SECONDS = 300


def render(directory: str) -> Target | InputError:
    name = f"{directory} (kustomize)"
    if not os.path.isdir(directory):
        return InputError(directory, None, "-k needs a directory holding a kustomization.yaml")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return InputError(
            directory,
            None,
            "-k needs kubectl on the PATH (it runs `kubectl kustomize`); install kubectl, or "
            "render the directory yourself: kubectl kustomize DIR | podsec scan -",
        )
    try:
        done = subprocess.run(
            [kubectl, "kustomize", directory], capture_output=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return InputError(directory, None, f"kubectl kustomize failed: {exc}")
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return InputError(directory, None, f"kubectl kustomize failed: {detail[-1] if detail else done.returncode}")
    if len(done.stdout) > MAX_FILE_BYTES:
        return InputError(directory, None, f"kustomize output too large (the limit is {MAX_FILE_BYTES:,} bytes)")
    return Target(None, name, done.stdout)
