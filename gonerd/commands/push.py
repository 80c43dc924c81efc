"""``gonerd push``: upload a built dataset directory (shards, card, figure) to the Hugging Face Hub."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_hub_options(p: argparse.ArgumentParser) -> None:
    """The Hub endpoint and timeouts, the same for every command that talks to the Hub."""
    p.add_argument("--endpoint", help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="seconds to wait for each answer from the Hub (default: GONERD_HUB_TIMEOUT or 60)")
    p.add_argument("--connect-timeout", type=float, metavar="SECONDS",
                   help="seconds to wait for a connection (default: GONERD_HUB_CONNECT_TIMEOUT or 10)")

def _cmd(args: argparse.Namespace) -> int:
    from gonerd.push import push_dataset

    result = push_dataset(args.dataset, args.repo_id, endpoint=args.endpoint, private=args.private,
                          revision=args.revision, commit_message=args.commit_message,
                          overwrite_card=args.overwrite_card, dry_run=args.dry_run,
                          connect_timeout=args.connect_timeout, read_timeout=args.timeout)
    print_upload(result, f"{result['endpoint']}/datasets/{args.repo_id} @ {result['revision']}", args.dry_run)
    return 0


def print_upload(result: dict, target: str, dry_run: bool) -> None:
    """Print what a push sent (or would send) to ``target``: the files with their sizes, then the commit."""
    total = sum(f["size"] for f in result["files"])
    print(f"{'would upload' if dry_run else 'uploaded'} {len(result['files'])} files ({total:,} bytes) to {target}")
    for f in result["files"]:
        print(f"  {f['path']}  {f['size']:,} bytes")
    if not dry_run:
        print(f"commit {result['commit_oid']}: {result['commit_url']}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``push`` subcommand."""
    p = sub.add_parser("push", help="upload a built dataset (parquet, card, figure) to the Hub",
                       description="Upload DIR/README.md, DIR/data/*.parquet and DIR/stats/* to a dataset repo in "
                                   "one commit. The token comes from HF_TOKEN or `hf auth login`. A card on the Hub "
                                   "whose hand-written sections differ from the local card is never replaced "
                                   "without --overwrite-card.")
    p.add_argument("dataset", type=Path, metavar="DIR", help="a `gonerd build` output directory")
    p.add_argument("--repo-id", required=True, metavar="OWNER/NAME", help="dataset repo on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--revision", help="branch to commit to (created if missing; default main)")
    p.add_argument("--commit-message", help="commit message")
    add_hub_options(p)
    p.add_argument("--overwrite-card", action="store_true", help="replace the Hub card even if hand-edited there")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded; send nothing")
    p.set_defaults(func=_cmd)
