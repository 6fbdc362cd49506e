"""A rule change applied in the app, by two people: an administrator proposes the candidate
file of the report (``rules_page``), a medical director other than the proposer approves or
rejects it with a comment. The approved text is stored in the database and every server
serves it from its next check (``web.reload``); earlier versions are kept, and restoring
one proposes its text again, through the same approval. Every step is audited."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from .. import storage
from ..core.loader import parse_book_candidate
from ..core.model import RuleFileError
from ..web.audit import audit
from ..web.db import get_db
from ..web.reload import ConfigFilesError, check_soon, file_sha256, read_text_files, serving_version
from ..web.ruleset import get_rulebook, get_ruleset
from .blueprint import bp
from .forms import CandidateRulesForm, LogoutForm
from .rule_change_forms import STATE_LABELS, DecideRulesForm, ProposeRulesForm, ReplayDaysForm
from .rules_page import candidate_report

# The past screenings the proposal page replays unless the proposer or reader chose another span.
REPLAY_DAYS = 90
# A proposed file travels base64 in a form field: a third larger than the upload it came from.
UPLOAD_OVERHEAD = 2


def version_target(version_id: int) -> str:
    """How audit rows name a rule version."""
    return f"rules:{version_id}"


def _require_csrf() -> None:
    """A POST without the form's CSRF token is refused (400) before anything is looked up or audited."""
    if not LogoutForm().validate_on_submit():
        abort(400)


def _version_or_404(version_id: int) -> storage.RuleVersionRecord:
    row = storage.get_rule_version(get_db(), version_id)
    if row is None:
        abort(404)
    return row


def _candidate_label(version_id: int | None = None) -> str:
    return f"proposed version {version_id}" if version_id is not None else "candidate.yaml"


@bp.get("/rules/changes")
def rule_changes() -> ResponseReturnValue:
    """Every rule version proposed in the app: who proposed and decided it, when, and its state."""
    return render_template(
        "practitioner/rule_changes.html",
        versions=storage.list_rule_versions(get_db()),
        in_force=get_ruleset(),
        serving=serving_version(),
        state_labels=STATE_LABELS,
        action_form=LogoutForm(),
    )


@bp.post("/rules/changes")
def propose_rules() -> ResponseReturnValue:
    """Store the candidate file of a report as a proposal (only one that loads without problems)."""
    limit = int(current_app.config["RULES_UPLOAD_MAX_BYTES"]) * UPLOAD_OVERHEAD
    request.max_content_length = limit
    request.max_form_memory_size = limit
    _require_csrf()
    form = ProposeRulesForm()
    if not form.validate():
        if form.rules_text.errors:  # not the report's form: there is no report to show again
            flash(form.rules_text.errors[0], "error")
            return redirect(url_for("practitioner.candidate_rules"), 303)
        return _candidate_page(form, form.file_text(), 400)
    text = form.file_text()
    try:
        files = read_text_files(current_app.config, text, _candidate_label())
    except ConfigFilesError as error:
        return _candidate_page(form, text, 400, problems=error.problems)
    if files.ruleset.digest == get_ruleset().digest:
        form.note.errors = [_("This file is the rule file in force: there is nothing to change.")]
        return _candidate_page(form, text, 400)
    version_id = storage.propose_rule_version(
        get_db(), text, files.ruleset.full_version, current_user.id, form.note.data
    )
    audit("rules.propose", version_target(version_id), {"version": files.ruleset.full_version})
    flash(_("Proposed. A medical director other than you approves or rejects it."))
    days = form.days.data if (form.days.data or "").isdigit() else None
    return redirect(url_for("practitioner.rule_change", version_id=version_id, days=days), 303)


def _candidate_page(
    form: ProposeRulesForm, text: str, status: int, problems: list[str] | None = None
) -> ResponseReturnValue:
    """The candidate report page again, for a proposal refused: its report and why."""
    report = None
    if not problems:
        try:
            candidate, _failing = parse_book_candidate(text.encode("utf-8"), _candidate_label())
        except RuleFileError as error:
            problems = error.problems
        else:
            report = candidate_report(get_rulebook(), candidate, None)
    return render_template(
        "practitioner/rules_candidate.html",
        ruleset=get_ruleset(),
        form=CandidateRulesForm(formdata=None),
        report=report,
        problems=problems or [],
        propose_form=form,
    ), status


@bp.get("/rules/changes/<int:version_id>")
def rule_change(version_id: int) -> ResponseReturnValue:
    """A version: what it changes compared with the rules in force, its examples and warnings,
    the replayed screenings, and the approval, rejection, withdrawal or restore it allows."""
    return render_change(_version_or_404(version_id))


def render_change(
    version: storage.RuleVersionRecord, decide_form: DecideRulesForm | None = None, status: int = 200
) -> ResponseReturnValue:
    """The version's page, with the decision form (and its errors)."""
    days_form = ReplayDaysForm(request.args)
    days = days_form.data["days"] if days_form.validate() and days_form.data["days"] else REPLAY_DAYS
    ruleset = get_ruleset()
    report: dict[str, Any] | None = None
    problems: list[str] = []
    try:
        candidate, _failing = parse_book_candidate(version["text"].encode("utf-8"), _candidate_label(version["id"]))
    except RuleFileError as error:  # a file a later release reads differently
        problems = error.problems
    else:
        # A version that is not a proposal any more is compared all the same: what restoring it would change.
        report = candidate_report(get_rulebook(), candidate, days)
    names = {row["id"]: row["name"] for row in storage.list_practitioners(get_db())}
    return render_template(
        "practitioner/rule_change.html",
        version=version,
        names=names,
        report=report,
        problems=problems,
        ruleset=ruleset,
        in_force=version["sha256"] == ruleset.digest,
        decide_form=decide_form or DecideRulesForm(formdata=None),
        days_form=ReplayDaysForm(formdata=None, data={"days": days}),
        action_form=LogoutForm(),
        state_labels=STATE_LABELS,
        may_decide=_may_decide(version) is None,
        refusal=_may_decide(version),
    ), status


def _may_decide(version: storage.RuleVersionRecord) -> str | None:
    """Why the signed-in account may not approve or reject this proposal (None: it may)."""
    if not current_user.medical_director:
        return str(_("Only a medical director can approve or reject a rule change."))
    if version["proposed_by"] == current_user.id:
        return str(_("You proposed this change: another medical director must approve or reject it."))
    return None


class DecisionRefused(Exception):
    """A decision on a rule version cannot be taken; ``response`` says why."""

    def __init__(self, response: ResponseReturnValue):
        super().__init__("decision refused")
        self.response = response


def _decision(version_id: int, action: str) -> tuple[storage.RuleVersionRecord, DecideRulesForm]:
    """The proposal and its valid form; raise ``DecisionRefused`` (a refused approver is audited)."""
    _require_csrf()
    version = _version_or_404(version_id)
    refusal = _may_decide(version)
    if refusal is not None:
        reason = "not_medical_director" if not current_user.medical_director else "own_proposal"
        audit("rules.refused", version_target(version_id), {"attempted": action, "reason": reason})
        flash(refusal, "error")
        raise DecisionRefused(render_change(version, status=403))
    if version["state"] != storage.RULES_PROPOSED:
        flash(_("This version is no longer a proposal: it was decided or withdrawn meanwhile."), "error")
        raise DecisionRefused(redirect(url_for("practitioner.rule_change", version_id=version_id), 303))
    form = DecideRulesForm()
    if not form.validate():
        raise DecisionRefused(render_change(version, form, 400))
    return version, form


@bp.post("/rules/changes/<int:version_id>/approve")
def approve_rules(version_id: int) -> ResponseReturnValue:
    """A medical director approves: every server serves the version from its next check."""
    try:
        version, form = _decision(version_id, "approve")
    except DecisionRefused as refused:
        return refused.response
    try:  # checked again now: the clinic file or consent texts may have changed since it was proposed
        read_text_files(current_app.config, version["text"], _candidate_label(version_id))
    except ConfigFilesError as error:
        form.comment.errors = [_("The file does not load now: %(problem)s", problem="; ".join(error.problems))]
        return render_change(version, form, 400)
    disk = file_sha256(current_app.config["RULES_FILE"])
    try:
        replaced = storage.approve_rule_version(get_db(), version_id, current_user.id, form.comment.data, disk)
    except storage.RuleVersionDecided:
        flash(_("This version is no longer a proposal: it was decided or withdrawn meanwhile."), "error")
        return redirect(url_for("practitioner.rule_change", version_id=version_id), 303)
    audit("rules.approve", version_target(version_id), {"version": version["version"], "replaces": replaced})
    check_soon()  # this process at once; the others within CONFIG_CHECK_SECONDS
    flash(
        _("Approved: version %(version)s is in force on every server from its next check.", version=version["version"])
    )
    return redirect(url_for("practitioner.rule_change", version_id=version_id), 303)


@bp.post("/rules/changes/<int:version_id>/reject")
def reject_rules(version_id: int) -> ResponseReturnValue:
    """A medical director rejects: the rules in force stay."""
    try:
        version, form = _decision(version_id, "reject")
    except DecisionRefused as refused:
        return refused.response
    try:
        storage.reject_rule_version(get_db(), version_id, current_user.id, form.comment.data)
    except storage.RuleVersionDecided:
        flash(_("This version is no longer a proposal: it was decided or withdrawn meanwhile."), "error")
        return redirect(url_for("practitioner.rule_change", version_id=version_id), 303)
    audit("rules.reject", version_target(version_id), {"version": version["version"]})
    flash(_("Rejected: the rules in force stay."))
    return redirect(url_for("practitioner.rule_change", version_id=version_id), 303)


@bp.post("/rules/changes/<int:version_id>/withdraw")
def withdraw_rules(version_id: int) -> ResponseReturnValue:
    """An administrator withdraws a proposal before it is decided."""
    _require_csrf()
    version = _version_or_404(version_id)
    try:
        storage.withdraw_rule_version(get_db(), version_id, current_user.id)
    except storage.RuleVersionDecided:
        flash(_("This version is no longer a proposal: it was decided or withdrawn meanwhile."), "error")
    else:
        audit("rules.withdraw", version_target(version_id), {"version": version["version"]})
        flash(_("Withdrawn."))
    return redirect(url_for("practitioner.rule_change", version_id=version_id), 303)


@bp.post("/rules/changes/<int:version_id>/restore")
def restore_rules(version_id: int) -> ResponseReturnValue:
    """Propose again the text of a version that was once in force; it needs the same approval."""
    _require_csrf()
    version = _version_or_404(version_id)
    back = redirect(url_for("practitioner.rule_change", version_id=version_id), 303)
    if (
        version["state"] not in (storage.RULES_APPROVED, storage.RULES_SUPERSEDED)
        or version["sha256"] == get_ruleset().digest
    ):
        flash(_("Only an earlier version that was in force can be restored."), "error")
        return back
    try:
        files = read_text_files(current_app.config, version["text"], _candidate_label(version_id))
    except ConfigFilesError as error:
        flash(_("The file does not load now: %(problem)s", problem="; ".join(error.problems)), "error")
        return back
    note = _("Restores version %(number)d (%(version)s).", number=version_id, version=version["version"])
    new_id = storage.propose_rule_version(
        get_db(), version["text"], files.ruleset.full_version, current_user.id, note, restores_id=version_id
    )
    audit("rules.restore", version_target(new_id), {"restores": version_id, "version": version["version"]})
    flash(_("Proposed. A medical director other than you approves or rejects it."))
    return redirect(url_for("practitioner.rule_change", version_id=new_id), 303)
