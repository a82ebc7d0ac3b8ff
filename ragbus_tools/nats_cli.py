"""``ragbus nats-secrets``: fresh NATS credentials for compose or Kubernetes."""

from typing import Annotated

import typer


def nats_secrets(
    k8s: Annotated[
        bool, typer.Option("--k8s", help="Print a Kubernetes Secret manifest instead.")
    ] = False,
    namespace: Annotated[
        str | None, typer.Option(help="The Secret's namespace (with --k8s).")
    ] = None,
) -> None:
    """Print new NATS passwords, the auth callout's seed and its issuer.

    As .env lines (`ragbus nats-secrets >> .env` for compose; also an env file
    for kustomize's secretGenerator), or with --k8s as the Secret ragbus-nats
    (`ragbus nats-secrets --k8s --namespace ragbus | kubectl apply -f -`). Every
    run makes new values: rotating means replacing the old ones, then restarting
    NATS and every service.
    """
    from ragbus_tools.nats_env import env_lines, new_values, secret_manifest

    values = new_values()
    typer.echo(secret_manifest(values, namespace=namespace) if k8s else env_lines(values), nl=False)
