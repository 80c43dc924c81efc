"""``gonerd push`` end-to-end against a real HTTP server on 127.0.0.1 that speaks the Hub's endpoints."""

from __future__ import annotations

import hashlib
import socket

import pytest
from huggingface_hub import constants

from gonerd.card import write_card
from gonerd.cli import main
from gonerd.dataset import build_dataset
from gonerd.errors import GonerdError
from gonerd.push import MERGED_CARD, plan_upload, push_dataset
from gonerd.stats import corpus_from_dataset, write_stats
from hub_stub import HubStub
from labeled_sample import labeled_sample

TOKEN = "hf_stub_token"
REPO = "gonerd-team/gonerd-sample"


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("push_ds")
    build_dataset(labeled_sample(), out)
    write_stats([corpus_from_dataset(out)], out / "stats")
    write_card(out)
    return out


@pytest.fixture
def hub(monkeypatch):
    # The LFS protocol is what this server speaks; hf_xet would switch LFS files to Xet storage.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    with HubStub(tokens=(TOKEN,)) as stub:
        yield stub


def test_dry_run_lists_files_and_sends_nothing(dataset_dir, hub, capsys):
    assert main(["push", str(dataset_dir), "--repo-id", REPO, "--endpoint", hub.url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    plan = plan_upload(dataset_dir)
    assert {i.path_in_repo for i in plan} >= {"README.md", "data/train-00000-of-00001.parquet", "stats/figure1.png"}
    for item in plan:
        assert f"  {item.path_in_repo}  {item.size:,} bytes" in out
    assert out.startswith(f"would upload {len(plan)} files") and hub.requests == []


def test_push_uploads_every_file_with_its_content(dataset_dir, hub, capsys):
    assert main(["push", str(dataset_dir), "--repo-id", REPO, "--endpoint", hub.url, "--private",
                 "--commit-message", "first release"]) == 0
    files = hub.repos[REPO]["main"]
    for item in plan_upload(dataset_dir):
        assert files[item.path_in_repo] == item.local_path.read_bytes(), item.path_in_repo
    assert hub.private[REPO] and hub.commits[-1]["summary"] == "first release"
    # Parquet and PNG travelled through the LFS batch API and a PUT of the bytes.
    paths = [p for _, p in hub.requests]
    assert any(p.endswith(".git/info/lfs/objects/batch") for p in paths)
    train = (dataset_dir / "data/train-00000-of-00001.parquet").read_bytes()
    assert f"/lfs-upload/{hashlib.sha256(train).hexdigest()}" in paths
    assert f"commit {hub.commits[-1]['oid']}" in capsys.readouterr().out


def test_revision_goes_to_a_branch(dataset_dir, hub):
    result = push_dataset(dataset_dir, REPO, endpoint=hub.url, revision="v0.1")
    assert result["commit_oid"] == hub.commits[-1]["oid"] and hub.commits[-1]["revision"] == "v0.1"
    assert "README.md" in hub.repos[REPO]["v0.1"] and hub.repos[REPO]["main"] == {}


def test_hand_edited_hub_card_is_not_clobbered(dataset_dir, hub):
    push_dataset(dataset_dir, REPO, endpoint=hub.url)
    local = (dataset_dir / "README.md").read_text()
    # Edits inside generated blocks (stale numbers) are not hand-written: the push goes through.
    hub.repos[REPO]["main"]["README.md"] = local.replace("## Statistics\n", "## Statistics\n\nold numbers\n").encode()
    push_dataset(dataset_dir, REPO, endpoint=hub.url)
    assert hub.repos[REPO]["main"]["README.md"].decode() == local
    # A hand-written section edited on the Hub stops the push and leaves a merge proposal.
    edited = local.replace("## Licensing\n", "## Licensing\n\nCC BY 4.0 for our annotations (edited on the Hub).\n")
    hub.repos[REPO]["main"]["README.md"] = edited.encode()
    n_commits = len(hub.commits)
    with pytest.raises(GonerdError, match=r"hand-written parts that differ.*section 'Licensing'.*--overwrite-card"):
        push_dataset(dataset_dir, REPO, endpoint=hub.url)
    assert len(hub.commits) == n_commits and hub.repos[REPO]["main"]["README.md"] == edited.encode()
    assert "edited on the Hub" in (dataset_dir / MERGED_CARD).read_text()
    (dataset_dir / MERGED_CARD).unlink()
    push_dataset(dataset_dir, REPO, endpoint=hub.url, overwrite_card=True)
    assert hub.repos[REPO]["main"]["README.md"].decode() == local


def test_rejected_token_gives_one_line_error(dataset_dir, hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    assert main(["push", str(dataset_dir), "--repo-id", REPO, "--endpoint", hub.url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "authentication failed" in err and "HTTP 401" in err and "HF_TOKEN" in err
    assert REPO not in hub.repos


def test_unreachable_hub_gives_one_line_error(dataset_dir, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")  # closed port, taken from the environment
    assert main(["push", str(dataset_dir), "--repo-id", REPO]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"cannot reach the Hub at http://127.0.0.1:{port}" in err
    assert "refused" in err.lower()


def test_bad_inputs(tmp_path):
    with pytest.raises(GonerdError, match="no README.md card"):
        plan_upload(tmp_path)
    with pytest.raises(GonerdError, match="OWNER/NAME"):
        push_dataset(tmp_path, "no-owner", dry_run=True)


def test_hub_api_sets_timeouts_for_its_block_only_and_names_the_endpoint_on_errors(hub, monkeypatch):
    from huggingface_hub.utils import get_session

    from gonerd.push import hub_api

    monkeypatch.setenv("GONERD_HUB_CONNECT_TIMEOUT", "3")
    with hub_api(hub.url, TOKEN, read_timeout=7) as api:
        assert api.endpoint == hub.url
        timeout = get_session().timeout
        assert (timeout.connect, timeout.read) == (3.0, 7.0)
        api.create_repo(REPO, repo_type="dataset", exist_ok=True)
    assert REPO in hub.repos and get_session().timeout.read is None  # huggingface_hub's own client again
    with pytest.raises(GonerdError, match=rf"^authentication failed at {hub.url} \(HTTP 401\)"):
        with hub_api(hub.url, "hf_wrong") as api:
            api.create_repo("gonerd-team/other", repo_type="dataset")
