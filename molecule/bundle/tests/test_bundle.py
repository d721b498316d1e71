"""What a user checks after the scenario: the hosts run release 2026.12.0, kept
1.0.0 for rollback, files have the right content and modes, nothing was left
half-done, and every artifact crossed the network exactly once."""

import collections
import json
import os

DEST = "/opt/groundwork/bundles"


def test_current_points_at_the_upgraded_version(host):
    link = host.file(DEST + "/hello/current")
    assert link.is_symlink
    assert link.linked_to == DEST + "/hello/1.1.0"
    assert host.file(DEST + "/settings/current").linked_to == DEST + "/settings/1.0.1"


def test_the_delivered_program_runs(host):
    run = host.run(DEST + "/hello/current/bin/hello")
    assert run.rc == 0
    assert run.stdout.strip() == "hello 1.1.0"


def test_modes_and_ownership_are_normalised(host):
    program = host.file(DEST + "/hello/current/bin/hello")
    assert program.mode == 0o755
    assert program.user == "root"
    page = host.file(DEST + "/hello/current/share/index.html")
    assert page.mode == 0o644
    assert page.content_string == "<h1>hello 1.1.0</h1>\n"
    settings = host.file(DEST + "/settings/current/settings-1.0.1.conf")
    assert settings.mode == 0o644
    assert settings.content_string == "greeting_version=1.0.1\n"


def test_previous_version_kept_for_rollback(host):
    assert host.file(DEST + "/hello/1.0.0/bin/hello").exists
    assert host.file(DEST + "/settings/1.0.0/settings-1.0.0.conf").exists


def test_state_records_the_highest_release(host):
    state = json.loads(host.file(DEST + "/.groundwork/state.json").content_string)
    assert state["highest_release"] == "2026.12.0"
    assert state["release"] == "2026.12.0"
    assert host.file(DEST + "/.groundwork").mode == 0o700


def test_nothing_left_in_staging(host):
    staging = host.file(DEST + "/.groundwork/staging")
    assert staging.is_directory
    assert staging.listdir() == []


def test_every_artifact_downloaded_once():
    # Both hosts, the idempotence run, the check run and the refused attempts
    # all share the controller cache: the origin served each artifact once.
    log = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "bundle-test", "requests.jsonl")
    with open(log) as handle:
        entries = [json.loads(line) for line in handle if line.strip()]
    artifacts = collections.Counter(e["path"] for e in entries if "/artifacts/" in e["path"] and e["status"] == 200)
    released = [p for p in artifacts if p.startswith("/2026.")]
    assert len(released) == 4, artifacts
    assert all(count == 1 for count in artifacts.values()), artifacts
