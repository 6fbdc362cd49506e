"""A session's settings checked against the clinic's devices and protocol (``core.devices``):
what the device cannot give, and what lies outside the protocol's range for the procedure and
the screened skin type (or above a clear test patch's fluence on a course's first session)."""

from __future__ import annotations

from dataclasses import dataclass

from .devices import Protocol

# What a finding is about: the session form's field it belongs beside.
FINDING_FIELDS = {
    "no_range": "device",
    "device": "device",
    "handpiece": "device",
    "wavelength": "wavelength_nm",
    "fluence": "fluence_j_cm2",
    "patch_fluence": "fluence_j_cm2",
    "pulse": "pulse_ms",
}


@dataclass(frozen=True)
class SessionSettings:
    """The settings a session was given with, as the form typed them."""

    device: str
    handpiece: str
    wavelength_nm: int
    fluence_j_cm2: float
    pulse_ms: float
    spot_mm: float
    passes: int
    cooling: str


@dataclass(frozen=True)
class Finding:
    """A setting outside the protocol's range: ``code`` (see ``FINDING_FIELDS``) and the limit it passed."""

    code: str
    limit: str

    @property
    def field(self) -> str:
        """The session form's field the finding belongs beside."""
        return FINDING_FIELDS[self.code]


def device_problems(protocol: Protocol, settings: SessionSettings) -> dict[str, str]:
    """What the device cannot do (by the session form's field): not the protocol's ranges, but
    settings the named device or handpiece does not offer. Empty when the device can."""
    device = protocol.device(settings.device)
    piece = device.handpiece(settings.handpiece) if device else None
    if device is None or piece is None:
        return {"device": "unknown"}
    problems = {}
    if settings.wavelength_nm not in piece.wavelengths_nm:
        problems["wavelength_nm"] = ", ".join(str(w) for w in piece.wavelengths_nm)
    if settings.spot_mm not in piece.spot_sizes_mm:
        problems["spot_mm"] = ", ".join(f"{s:g}" for s in piece.spot_sizes_mm)
    if settings.cooling not in device.cooling:
        problems["cooling"] = ", ".join(device.cooling)
    return problems


def protocol_findings(
    protocol: Protocol,
    procedure: str,
    skin_type: str | None,
    settings: SessionSettings,
    *,
    first_session: bool = False,
    patch_fluence: float | None = None,
) -> list[Finding]:
    """The settings outside the protocol's range for this procedure and screened skin type. No range
    (a skin type the protocol leaves out, or none screened, "not sure" included) is a finding too:
    nothing vouches for any setting then."""
    found = protocol.range_for(procedure, skin_type)
    if found is None:
        return [Finding("no_range", skin_type or "")]
    findings = []
    if found.devices and settings.device not in found.devices:
        findings.append(Finding("device", ", ".join(sorted(found.devices))))
    if found.handpieces and settings.handpiece not in found.handpieces:
        findings.append(Finding("handpiece", ", ".join(sorted(found.handpieces))))
    if found.wavelengths_nm and settings.wavelength_nm not in found.wavelengths_nm:
        findings.append(Finding("wavelength", ", ".join(str(w) for w in sorted(found.wavelengths_nm))))
    if settings.fluence_j_cm2 > found.max_fluence_j_cm2:
        findings.append(Finding("fluence", f"{found.max_fluence_j_cm2:g}"))
    if found.pulse_ms and not found.pulse_ms[0] <= settings.pulse_ms <= found.pulse_ms[1]:
        findings.append(Finding("pulse", f"{found.pulse_ms[0]:g}–{found.pulse_ms[1]:g}"))
    if (
        first_session
        and found.patch_caps_first_session
        and patch_fluence is not None
        and settings.fluence_j_cm2 > patch_fluence
    ):
        findings.append(Finding("patch_fluence", f"{patch_fluence:g}"))
    return findings
