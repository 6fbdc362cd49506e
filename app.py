"""Entry point: ``flask --app app run`` or ``gunicorn app:app``."""

import sys

from screening import create_app
from screening.core.clinic import ClinicFileError
from screening.core.consent import ConsentFileError
from screening.core.devices import DevicesFileError
from screening.core.model import RuleFileError
from screening.storage import StorageUnavailable
from screening.web.security import ConfigError

# Also what `flask reload` says of a broken edit: running servers keep the version in force.
_UNTIL_FIXED = (
    "{what} problems; until they are fixed the app will not start, and running servers keep the version in force:"
)

try:
    app = create_app()
except RuleFileError as error:
    # Refuse to run on a broken rule file, saying exactly what to fix.
    print(_UNTIL_FIXED.format(what="The rule file has"), file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)
    sys.exit(2)
except (ClinicFileError, ConsentFileError, DevicesFileError) as error:
    what = {ClinicFileError: "The clinic file has", DevicesFileError: "The devices file has"}.get(
        type(error), "The consent texts have"
    )
    print(_UNTIL_FIXED.format(what=what), file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)
    sys.exit(2)
except (ConfigError, StorageUnavailable) as error:
    print(f"The app will not start: {error}", file=sys.stderr)
    sys.exit(2)
except OSError as error:
    # A folder it must write in that it cannot (a read-only instance folder): one line, not a traceback.
    print(f"The app will not start: {error}", file=sys.stderr)
    sys.exit(2)
