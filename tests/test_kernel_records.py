"""One record per modelled kernel (handshake_course/model/kernels/): each states every setting and
every fact, with the source it was read from, and absence is said, never implied."""

from __future__ import annotations

import re

import pytest

from handshake_course.model import SETTINGS, VERSIONS, Kernel
from handshake_course.model.kernels import FACTS, RECORDS, Absent, Value

SOURCE = re.compile(r"[a-z0-9_/]+\.[ch](:\d+)?\b|\b[0-9a-f]{12}\b|CONFIG_|measured")  # a file, a commit, a config


def release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split("."))


def test_the_records_are_the_versions_oldest_first():
    assert tuple(RECORDS) == VERSIONS
    releases = [release_key(r.release) for r in RECORDS.values()]
    assert releases == sorted(releases)
    for version, record in RECORDS.items():
        assert record.release == version or record.release.startswith(f"{version}."), record.release


@pytest.mark.parametrize("version", VERSIONS)
def test_every_record_states_every_setting_and_fact(version):
    record = RECORDS[version]
    assert set(record.settings) == set(SETTINGS), "a setting left out would look like a missing sysctl"
    assert set(record.facts) == set(FACTS)
    assert all(isinstance(entry, (Value, Absent)) for entry in record.settings.values())
    assert all(isinstance(entry, Value) for entry in record.facts.values())


@pytest.mark.parametrize("version", VERSIONS)
def test_every_entry_cites_a_source_file_a_commit_or_a_measurement(version):
    record = RECORDS[version]
    for name, entry in [*record.settings.items(), *record.facts.items()]:
        assert SOURCE.search(entry.source), f"{version} {name}: {entry.source!r} names no source"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_kernel_is_its_records_defaults_and_facts(version):
    kernel, record = Kernel(version), RECORDS[version]
    assert dict(kernel.settings) == record.defaults()
    assert {name: getattr(kernel, name) for name in FACTS} == {n: f.value for n, f in record.facts.items()}
    assert kernel.release == record.release


def test_an_absent_sysctl_is_refused_saying_when_it_came():
    for version, record in RECORDS.items():
        for name, entry in record.settings.items():
            if isinstance(entry, Absent):
                assert release_key(entry.since) > release_key(record.release.rsplit(".", 1)[0]), (version, name)
                with pytest.raises(ValueError, match=rf"{name}: Linux {re.escape(version)} has no such sysctl "
                                                     rf"\(it came in Linux {re.escape(entry.since)}"):
                    Kernel(version, **{name: SETTINGS[name].defaults[VERSIONS[-1]]})


def test_a_setting_a_newer_kernel_dropped_is_never_absent_from_an_older_one():
    # Every sysctl the model knows still exists in the newest kernel: absence only ever means "not yet".
    for name, setting in SETTINGS.items():
        have = [v in setting.defaults for v in VERSIONS]
        assert have == sorted(have), f"{name} disappears and comes back: {dict(zip(VERSIONS, have, strict=True))}"
