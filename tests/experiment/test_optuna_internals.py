"""The Optuna internals hpstudy relies on still exist and mean the same, and only the adapter
module (:mod:`hpstudy.experiment.optuna_internals`) touches them."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

import hpstudy
from hpstudy.experiment import optuna_internals as internals
from hpstudy.experiment.storage import open_storage

State = optuna.trial.TrialState
PACKAGE = Path(hpstudy.__file__).parent
#: private Optuna fields (and the private module of BaseHeartbeat), as they appear in code
PRIVATE = re.compile(r"\._storage\b|\._trial_id\b|\._study_id\b|\._backend\b|"
                     r"_get_stale_trial_ids|storages\._heartbeat|_CachedStorage")


@pytest.fixture(params=["memory", "journal", "sqlite"])
def study(request, tmp_path) -> optuna.Study:
    storage = {
        "memory": lambda: None,
        "journal": lambda: open_storage(str(tmp_path / "optuna.journal")),
        "sqlite": lambda: open_storage(f"sqlite:///{tmp_path / 'optuna.db'}"),
    }[request.param]()
    return optuna.create_study(study_name="s", storage=storage)


def test_a_queued_trial_is_claimed_tagged_and_ended_through_the_adapter(study):
    study.enqueue_trial({}, skip_if_exists=False)
    (waiting,) = study.get_trials(deepcopy=False, states=(State.WAITING,))
    trial_id = internals.trial_id(waiting)
    assert internals.trial_number(study, trial_id) == waiting.number == 0
    assert internals.set_state(study, trial_id, State.RUNNING) is True
    internals.set_user_attr(study, trial_id, "host", "here")
    assert study.trials[0].state == State.RUNNING and study.trials[0].user_attrs["host"] == "here"
    assert internals.set_state(study, trial_id, State.COMPLETE, [0.5]) is True
    assert study.trials[0].state == State.COMPLETE and study.trials[0].values == [0.5]
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        internals.set_state(study, trial_id, State.RUNNING)


def test_the_storage_url_is_the_one_hpstudy_opened(study, tmp_path):
    url = internals.storage_url(study)
    assert url in (None, str(tmp_path / "optuna.journal"), f"sqlite:///{tmp_path / 'optuna.db'}")
    assert (url is None) == isinstance(internals.storage_of(study),
                                       optuna.storages.InMemoryStorage)


def test_only_database_storages_have_heartbeats_and_stale_trials(study):
    interval = internals.heartbeat_interval(study)
    is_database = isinstance(internals.storage_of(study), optuna.storages._CachedStorage)
    assert (interval is not None) == is_database
    study.enqueue_trial({}, skip_if_exists=False)
    trial_id = internals.trial_id(study.trials[0])
    internals.set_state(study, trial_id, State.RUNNING)
    if is_database:
        internals.record_heartbeat(study, trial_id)
    assert internals.stale_trial_ids(study) == set()  # its heartbeat is fresh (or there is none)


def test_no_other_module_touches_private_optuna_fields():
    adapter = Path(internals.__file__)
    offenders = [f"{path.relative_to(PACKAGE)}:{number}"
                 for path in PACKAGE.rglob("*.py") if path != adapter
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if PRIVATE.search(line)]
    assert offenders == []


def test_the_private_field_pattern_finds_what_it_looks_for():
    for line in ("s = study._storage", "t._trial_id in stale", "x._backend.y",
                 "storage._get_stale_trial_ids(1)", "optuna.storages._heartbeat.BaseHeartbeat"):
        assert PRIVATE.search(line), line
    assert not PRIVATE.search("internals.storage_of(study)")
