"""devices.yaml: the clinic's devices and protocol, refused with each problem's line (at start-up, by
check-rules, after an edit), checked against the rule file; and the protocol's check of a session's settings."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner

from screening import ROOT
from screening.core.devices import DevicesFileError, load_protocol, load_protocol_for
from screening.core.loader import load_rulebook
from screening.core.session_check import SessionSettings, device_problems, protocol_findings
from tests.helpers import MINIMAL, build_app, signed_in

SKIN_TYPES = ("I", "II", "III", "IV", "V", "VI", "unsure")
PROCEDURES = ("laser_rejuvenation", "ipl_photorejuvenation")
# Line numbers below count from this text's first line.
DEVICES = """\
devices:
  - id: yag
    name: Example Nd:YAG
    cooling: [contact, none]
    handpieces:
      - id: zoom
        name: Zoom
        kind: handpiece
        wavelengths_nm: [1064]
        spot_sizes_mm: [3, 5]
protocols:
  - procedure: laser_rejuvenation
    skin_types: [I, II, III]
    devices: [yag]
    wavelengths_nm: [1064]
    max_fluence_j_cm2: 15
    pulse_ms: {min: 0.3, max: 50}
    patch_caps_first_session: false
  - procedure: laser_rejuvenation
    skin_types: [V]
    max_fluence_j_cm2: 10
    patch_caps_first_session: true
"""


def write_devices(folder: Path, text: str = DEVICES) -> Path:
    path = folder / "devices.yaml"
    path.write_text(text, encoding="utf-8")
    return path


Change = Callable[[str], str]


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (lambda t: t.replace("[1064]\n    max", "[1064\n    max", 1), 16, "YAML syntax error"),
        (lambda t: t.replace("max_fluence_j_cm2: 15", "max_fluence_j_cm2: lots"), 16, "must be a number above 0"),
        (lambda t: t.replace("max_fluence_j_cm2: 10", "max_fluence_j_cm2: -1"), 21, "must be a number above 0"),
        (lambda t: t.replace("    max_fluence_j_cm2: 10\n", ""), 19, "has no 'max_fluence_j_cm2'"),
        (lambda t: t.replace("skin_types: [V]", "skin_types: [VII]"), 20, "the skin-type question has no option 'VII'"),
        (
            lambda t: t.replace("skin_types: [V]", "skin_types: [III]"),
            20,
            "skin type III already has a range (line 13)",
        ),
        (
            lambda t: t.replace(
                "  - procedure: laser_rejuvenation\n    skin_types: [V]",
                "  - procedure: tattoo_removal\n    skin_types: [V]",
            ),
            19,
            "the rule file has no procedure 'tattoo_removal'",
        ),
        (lambda t: t.replace("devices: [yag]", "devices: [alexandrite]"), 14, "unknown device 'alexandrite'"),
        (lambda t: t.replace("{min: 0.3, max: 50}", "{min: 50, max: 0.3}"), 17, "min (50) is above its max (0.3)"),
        (lambda t: t.replace("kind: handpiece", "kind: lens"), 8, "'kind' must be handpiece or filter"),
        (
            lambda t: t.replace("wavelengths_nm: [1064]\n        spot", "wavelengths_nm: [10.5]\n        spot"),
            9,
            "must be a whole number above 0",
        ),
        (lambda t: t.replace("  - id: yag", "  - id: Yag"), 2, "must start with a lower-case letter"),
        (
            lambda t: t.replace("patch_caps_first_session: true", "patch_caps_first_session: maybe"),
            22,
            "must be true or false",
        ),
        (lambda t: t + "lasers: []\n", 23, "unknown key 'lasers'"),
        (
            lambda t: t.replace(
                "    pulse_ms: {min: 0.3, max: 50}\n", "    pulse_ms: {min: 0.3, max: 50}\n    pulse_ms: 3\n"
            ),
            18,
            "duplicate key 'pulse_ms'",
        ),
    ],
)
def test_a_broken_devices_file_is_refused_with_its_line(
    tmp_path: Path, change: Change, line: int, message: str
) -> None:
    path = write_devices(tmp_path, change(DEVICES))
    with pytest.raises(DevicesFileError) as error:
        load_protocol(path, PROCEDURES, SKIN_TYPES)
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in error.value.problems), error.value.problems


def test_the_app_refuses_to_start_on_a_broken_devices_file(tmp_path: Path) -> None:
    path = write_devices(tmp_path, DEVICES.replace("skin_types: [V]", "skin_types: [VII]"))
    with pytest.raises(DevicesFileError, match=f"{path}:20: "):
        build_app(tmp_path, DEVICES_FILE=str(path))
    env = {
        "PATH": "/usr/bin:/bin",
        "SCREENING_DATABASE": str(tmp_path / "x.sqlite"),
        "SCREENING_SECRET_KEY": "a-long-enough-secret-key-for-this-test",
        "SCREENING_DEVICES_FILE": str(path),
    }
    done = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "The devices file has problems" in done.stderr and f"{path}:20: " in done.stderr


def test_the_shipped_example_loads_against_the_shipped_rules_and_says_it_is_an_example() -> None:
    protocol = load_protocol_for(ROOT / "devices.yaml", load_rulebook(ROOT / "rules.yaml"))
    assert {d.id for d in protocol.devices} == {"nd_yag", "ipl"}
    assert protocol.range_for("laser_rejuvenation", "V") is not None
    assert protocol.range_for("ipl_photorejuvenation", "V") is None  # no IPL range: every setting needs a reason
    assert "EXAMPLE PROTOCOL" in (ROOT / "devices.yaml").read_text(encoding="utf-8").splitlines()[0]


def test_check_rules_checks_the_devices_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    good = runner.invoke(args=["check-rules"])
    assert good.exit_code == 0, good.stderr
    assert "devices.yaml: OK, 2 device(s)" in good.stdout
    path = write_devices(tmp_path, DEVICES.replace("devices: [yag]", "devices: [ruby]"))
    bad = runner.invoke(args=["check-rules", "--devices", str(path)])
    assert (
        bad.exit_code == 2
        and f"{path}:14: the protocol entry for 'laser_rejuvenation' names an unknown device 'ruby'" in bad.stderr
    )


def test_check_rules_checks_the_apps_devices_file_with_the_apps_rule_file_only(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # The app's rule file named as FILE is the shipped pair: checked together.
    named = runner.invoke(args=["check-rules", str(ROOT / "rules.yaml")])
    assert named.exit_code == 0, named.stderr
    assert "devices.yaml: OK, 2 device(s)" in named.stdout
    # A small rule file has none of the devices file's procedures and skin types: not checked by default...
    small = tmp_path / "small.yaml"
    small.write_text(MINIMAL, encoding="utf-8")
    alone = runner.invoke(args=["check-rules", str(small)])
    assert alone.exit_code == 0, alone.stderr
    assert "Devices file not checked: give --devices FILE to check one against this rule file." in alone.stdout
    assert "devices.yaml: OK" not in alone.stdout
    # ...and refused when asked for.
    paired = runner.invoke(args=["check-rules", str(small), "--devices", str(ROOT / "devices.yaml")])
    assert paired.exit_code == 2
    assert "laser_rejuvenation" in paired.stderr and "problem(s) found." in paired.stderr


def test_an_edited_devices_file_is_read_again_and_a_broken_edit_keeps_the_one_in_force(tmp_path: Path) -> None:
    path = write_devices(tmp_path)
    app = build_app(tmp_path, DEVICES_FILE=str(path), CONFIG_CHECK_SECONDS=0)
    admin = signed_in(app, "grace@example.com", "Grace", role="admin")
    time.sleep(0.01)
    path.write_text(DEVICES.replace("max_fluence_j_cm2: 15", "max_fluence_j_cm2: 14"), encoding="utf-8")
    admin.get("/practitioner/")
    range_iii = app.extensions["protocol"].range_for("laser_rejuvenation", "III")
    assert range_iii is not None and range_iii.max_fluence_j_cm2 == 14
    path.write_text(DEVICES.replace("max_fluence_j_cm2: 15", "max_fluence_j_cm2: 14, oops"), encoding="utf-8")
    admin.get("/practitioner/")
    kept = app.extensions["protocol"].range_for("laser_rejuvenation", "III")
    assert kept is not None and kept.max_fluence_j_cm2 == 14


SETTINGS = SessionSettings("yag", "zoom", 1064, 12, 10, 5, 1, "contact")


@pytest.mark.parametrize(
    ("skin_type", "changes", "codes"),
    [
        ("III", {}, []),
        ("III", {"fluence_j_cm2": 15.5}, ["fluence"]),
        ("III", {"pulse_ms": 0.1}, ["pulse"]),
        ("V", {}, ["fluence"]),  # 12 J/cm² is above skin type V's 10
        ("V", {"fluence_j_cm2": 10}, []),
        ("IV", {}, ["no_range"]),  # the protocol leaves skin type IV out
        ("unsure", {}, ["no_range"]),
        (None, {}, ["no_range"]),
    ],
)
def test_settings_outside_the_range_for_the_skin_type_are_findings(
    tmp_path: Path, skin_type: str | None, changes: dict[str, float], codes: list[str]
) -> None:
    protocol = load_protocol(write_devices(tmp_path), PROCEDURES, SKIN_TYPES)
    settings = SessionSettings(**{**SETTINGS.__dict__, **changes})
    found = protocol_findings(protocol, "laser_rejuvenation", skin_type, settings)
    assert [f.code for f in found] == codes


def test_what_the_device_cannot_give_is_an_error_not_a_finding(tmp_path: Path) -> None:
    protocol = load_protocol(write_devices(tmp_path), PROCEDURES, SKIN_TYPES)
    assert device_problems(protocol, SETTINGS) == {}
    wrong = SessionSettings("yag", "zoom", 755, 12, 10, 7, 1, "cryogen")
    assert device_problems(protocol, wrong) == {"wavelength_nm": "1064", "spot_mm": "3, 5", "cooling": "contact, none"}
    assert device_problems(protocol, SessionSettings("yag", "other", 1064, 12, 10, 5, 1, "none")) == {
        "device": "unknown"
    }
