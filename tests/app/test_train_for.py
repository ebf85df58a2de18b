"""The train panel's "Train for": a time budget, until it stops improving, or a number of epochs."""

from __future__ import annotations

import dataclasses

from test_train_panel import tiny_config

from segcore.project.defaults import default_config
from segcore.training.events import SchedulePlanned

RUN_TIMEOUT_MS = 60_000


def _choose(panel, text: str) -> None:
    panel.train_for_combo.setCurrentIndex(panel.train_for_combo.findText(text))


def test_train_for_starts_from_the_defaults_budget_and_maps_to_the_config(train_setup):
    panel, store = train_setup.panel, train_setup.state.store
    defaults = default_config(store)
    assert defaults.time_budget_s is not None and panel.config_from_form() == defaults
    assert panel.train_for_combo.currentText() == {240.0: "4 min", 120.0: "2 min"}[defaults.time_budget_s]
    assert panel.epochs_label.text() == "At most (epochs)"  # with a budget the epochs are the cap
    texts = [panel.train_for_combo.itemText(i) for i in range(panel.train_for_combo.count())]
    budgets = [t for t in texts if t.endswith("min")]
    assert budgets == sorted(budgets, key=lambda t: float(t.split()[0]))  # the defaults' budget in its place
    assert {"1 min", "2 min", "5 min", "20 min"} <= set(budgets)

    _choose(panel, "20 min")
    assert (panel.config_from_form().time_budget_s, panel.config_from_form().until_flat) == (1200.0, False)
    for text, seconds in (("1 min", 60.0), ("2 min", 120.0)):  # a first look at a handful of boxes
        _choose(panel, text)
        assert (panel.config_from_form().time_budget_s, panel.config_from_form().until_flat) == (seconds, False)
    _choose(panel, "until it stops improving")
    config = panel.config_from_form()
    assert (config.time_budget_s, config.until_flat, config.epochs) == (None, True, defaults.epochs)
    _choose(panel, "a number of epochs")
    panel.epochs_spin.setValue(12)
    config = panel.config_from_form()
    assert (config.time_budget_s, config.until_flat, config.epochs) == (None, False, 12)
    assert panel.epochs_label.text() == "Epochs" and not panel.shows_defaults()

    for config in (tiny_config(time_budget_s=90.0, until_flat=True, patience=3), tiny_config(until_flat=True),
                   tiny_config(time_budget_s=300.0)):
        panel.set_form(config)
        assert panel.config_from_form() == config  # every combination survives the form
    assert panel.train_for_combo.currentText() == "5 min"
    panel.set_form(tiny_config(time_budget_s=90.0, until_flat=True))
    assert panel.train_for_combo.currentText() == "1 min 30 s"
    _choose(panel, "5 min")  # another budget picked by hand: no "until flat" carried over from elsewhere
    panel.set_form(tiny_config(until_flat=True))
    _choose(panel, "5 min")
    assert not panel.config_from_form().until_flat


def test_a_budgeted_run_shows_its_plan_and_finishes_within_it(qtbot, train_setup):
    panel, session, store = train_setup.panel, train_setup.session, train_setup.state.store
    panel.set_form(dataclasses.replace(tiny_config(epochs=1000), time_budget_s=3.0))
    planned: list[SchedulePlanned] = []
    session.planned.connect(planned.append)
    etas: list[str] = []
    session.progress.connect(lambda _event: etas.append(panel.eta_label.text()))
    with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS) as finished:
        panel.train_button.click()
    event = finished.args[0]
    assert planned and not event.cancelled and event.epochs < 1000
    assert etas[0].startswith("Epoch 1 (timing it to plan 0:03)")  # before the plan: the budget is the measure
    assert panel.eta_label.toolTip() == planned[-1].message and planned[-1].message.startswith("budget 0:03: ~")
    assert panel.status_label.text().startswith(f"Finished {event.epochs} epoch{'' if event.epochs == 1 else 's'}")
    assert panel.progress_bar.value() == panel.progress_bar.maximum()
    [run] = store.runs()
    metrics = store.run_metrics(run.id)
    assert metrics[planned[0].after_epoch]["planned_epochs"] == planned[0].epochs  # the plan, recorded in the run


def test_train_for_sits_beside_the_train_button_not_in_the_scrolled_form(train_setup):
    """Issue 27, item 8: the form showed ~5 rows and "Train for" needed scrolling."""
    from PySide6.QtWidgets import QScrollArea

    panel = train_setup.panel
    widget, ancestors = panel.train_for_combo, []
    while widget is not None:
        ancestors.append(widget)
        widget = widget.parentWidget()
    assert not any(isinstance(w, QScrollArea) for w in ancestors)
    assert panel.train_button.parentWidget() is panel.train_for_combo.parentWidget()
