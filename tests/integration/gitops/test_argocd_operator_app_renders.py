"""The operator Application renders the way Argo CD renders it: `helm template` of the chart
with the Application's release name, namespace and values, CRDs included."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from foundry_devtools.devcluster import versions
from support import KubeEnv

REPO = Path(__file__).resolve().parents[3]
APP = REPO / "examples" / "argocd" / "application-operator.yaml"


def test_operator_application_renders_the_crd_and_the_operator(
    kube: KubeEnv, tmp_path: Path
) -> None:
    app = yaml.safe_load(APP.read_text())
    source, destination = app["spec"]["source"], app["spec"]["destination"]
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(source["helm"]["valuesObject"]))
    rendered = subprocess.run(
        [
            str(kube.helm_bin), "template", source["helm"]["releaseName"],
            str(REPO / source["path"]), "--namespace", destination["namespace"],
            "--include-crds", "--kube-version", versions.KUBERNETES_VERSION,
            "-f", str(values),
        ],
        capture_output=True, text=True, check=False, env=kube.env,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("CustomResourceDefinition", "hostedagents.foundry.agents.dev") in kinds
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["metadata"]["name"] == "foundry-agent-operator"
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
    }
    endpoint = source["helm"]["valuesObject"]["operator"]["projectEndpoint"]
    assert endpoint in env.values()
