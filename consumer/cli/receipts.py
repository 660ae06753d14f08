"""keys generate/show and receipt [show]/verify: the audit signing key and erasure receipts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click

from consumer import signing
from consumer.cli.common import get_ops, get_settings, operator_command
from consumer.cli.output import emit, json_option
from consumer.ops import receipts
from consumer.settings.load import SIGNING_KEY_ENV


@click.group()
def keys() -> None:
    """The Ed25519 key that signs audit checkpoints and erasure receipts."""


@keys.command("generate")
@json_option
def keys_generate(as_json: bool) -> None:
    """Print a new key pair: the private key to set as AUDIT_SIGNING_KEY, and its public key."""
    private, key = signing.generate()
    data = {"private_key": private, "public_key": key.public, "key_id": key.key_id}
    text = (
        f"{SIGNING_KEY_ENV}={private}\n"
        f"# public key (for auditors; `keys show` and GET /admin/audit/public-key serve it):\n"
        f"# {key.public}\n# key id: {key.key_id}"
    )
    emit(data, as_json, text)


@keys.command("show")
@json_option
def keys_show(as_json: bool) -> None:
    """Print the public key and key id of the configured AUDIT_SIGNING_KEY."""
    key = get_settings(embedded=False).signing_key
    if key is None:
        raise click.ClickException(
            f"no signing key: set {SIGNING_KEY_ENV} (see `zeeg-consumer keys generate`)"
        )
    data = {"algorithm": signing.ALGORITHM, "public_key": key.public, "key_id": key.key_id}
    emit(data, as_json, f"{key.public}\nkey id {key.key_id} ({signing.ALGORITHM})")


class _ShowByDefault(click.Group):
    """`receipt SOURCE EVENT_ID` is `receipt show SOURCE EVENT_ID`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ShowByDefault)
def receipt() -> None:
    """Signed receipts of erasures: `receipt SOURCE EVENT_ID`, `receipt verify FILE`."""


@receipt.command("show")
@click.argument("source")
@click.argument("event_id")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
@operator_command
def receipt_show(source: str, event_id: str, output: TextIO) -> None:
    """The receipt of one done or failed event, as JSON (signed when a key is set)."""
    doc = receipts.receipt(get_ops(), source, event_id)
    output.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


@receipt.command("verify")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--public-key",
    "public_key",
    required=True,
    help="The public key (base64, as `keys show` prints it) or a file holding it.",
)
def receipt_verify(file: TextIO, public_key: str) -> None:
    """Check a receipt offline: exit 0 if the key signed it unchanged, else 1 saying why."""
    text = file.read()
    problem = receipts.verify(text, _key_text(public_key))
    if problem is not None:
        raise click.ClickException(f"receipt does not verify: {problem}")
    doc = json.loads(text)
    click.echo(
        f"ok: receipt of {doc.get('source')}/{doc.get('event_id')} ({doc.get('status')}), "
        f"signed by key {doc['signature']['key_id']}"
    )


def _key_text(value: str) -> str:
    """A public key given inline or as the path of a file holding it."""
    path = Path(value)
    return path.read_text(encoding="utf-8") if path.is_file() else value
